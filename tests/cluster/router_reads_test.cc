// server/router_reads.h without a cluster: the session copy choice, the latency window's
// percentile, the hedge delay, and the decisions of a read race (clock values given, no calls).
#include "server/router_reads.h"

#include <set>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace adanns::server {
namespace {

using std::chrono::milliseconds;

TEST(SessionCopyTest, IsStableAndSpreadsKeys) {
  std::set<size_t> chosen;
  for (int key = 0; key < 60; ++key) {
    const std::string name = "session-" + std::to_string(key);
    const size_t copy = SessionCopy(name, 0, 3);
    ASSERT_LT(copy, 3u);
    EXPECT_EQ(SessionCopy(name, 0, 3), copy);
    chosen.insert(copy);
  }
  EXPECT_EQ(chosen.size(), 3u);
  // Fixed forever, like IdHash: routers of different builds pin a session alike.
  EXPECT_EQ(SessionCopy("alice", 0, 1000), SessionCopy("alice", 0, 1000));
  EXPECT_EQ(SessionCopy("", 7, 1), 0u);
}

TEST(LatencyWindowTest, NearestRankPercentileOverTheLastSamples) {
  LatencyWindow window(100);
  EXPECT_FALSE(window.Percentile(95, 1).has_value());
  for (int ms = 1; ms <= 100; ++ms) window.Add(absl::Milliseconds(ms));
  EXPECT_EQ(window.Percentile(95, 20), absl::Milliseconds(95));
  EXPECT_EQ(window.Percentile(50, 20), absl::Milliseconds(50));
  EXPECT_EQ(window.Percentile(100, 20), absl::Milliseconds(100));
  EXPECT_FALSE(window.Percentile(95, 101).has_value());
  // The window keeps the last 100: 100 samples of 1 s push every earlier one out.
  for (int i = 0; i < 100; ++i) window.Add(absl::Seconds(1));
  EXPECT_EQ(window.size(), 100u);
  EXPECT_EQ(window.Percentile(1, 20), absl::Seconds(1));
}

TEST(HedgeDelayTest, PercentileWithAFloorWithinTheDeadline) {
  LatencyWindow window;
  HedgePolicy policy;
  for (int i = 0; i < 19; ++i) window.Add(absl::Milliseconds(10));
  EXPECT_FALSE(HedgeDelay(policy, window, absl::Seconds(3)).has_value()) << "19 samples";
  window.Add(absl::Milliseconds(10));
  EXPECT_EQ(HedgeDelay(policy, window, absl::Seconds(3)), absl::Milliseconds(10));
  EXPECT_FALSE(HedgeDelay(policy, window, absl::Milliseconds(10)).has_value()) << "deadline";
  LatencyWindow fast;
  for (int i = 0; i < 20; ++i) fast.Add(absl::Microseconds(100));
  EXPECT_EQ(HedgeDelay(policy, fast, absl::Seconds(3)), policy.floor);
  policy.percentile = 0;
  EXPECT_FALSE(HedgeDelay(policy, window, absl::Seconds(3)).has_value()) << "disabled";
}

class ReadRaceTest : public ::testing::Test {
 protected:
  // A stub that is never called (the race only looks at whether a backup exists).
  std::shared_ptr<v1::ShardService::Stub> stub_ = v1::ShardService::NewStub(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  ReadClock::time_point t0_ = ReadClock::now();
  grpc::Status unavailable_{grpc::StatusCode::UNAVAILABLE, "down"};

  ShardReadPlan Plan(bool backup, std::optional<milliseconds> hedge_after = std::nullopt) {
    ShardReadPlan plan;
    plan.first = stub_;
    if (backup) plan.backup = stub_;
    if (hedge_after.has_value()) plan.hedge_at = t0_ + *hedge_after;
    return plan;
  }
};

TEST_F(ReadRaceTest, HedgesASlowCopyAndCancelsTheLoser) {
  ReadRace race({Plan(true, milliseconds(5))}, t0_);
  EXPECT_TRUE(race.Next(t0_ + milliseconds(4)).ask_backup.empty());
  EXPECT_EQ(race.NextHedge(), t0_ + milliseconds(5));
  EXPECT_EQ(race.Next(t0_ + milliseconds(5)).ask_backup, std::vector<size_t>{0});
  EXPECT_FALSE(race.NextHedge().has_value());
  race.Finished(0, 1, grpc::Status::OK, t0_ + milliseconds(8));
  const ReadRace::Actions actions = race.Next(t0_ + milliseconds(8));
  ASSERT_EQ(actions.cancel.size(), 1u);
  EXPECT_EQ(actions.cancel[0], (std::pair<size_t, int>(0, 0)));
  EXPECT_FALSE(race.Done()) << "the cancelled call has not finished";
  race.Finished(0, 0, grpc::Status(grpc::StatusCode::CANCELLED, ""), t0_ + milliseconds(9));
  EXPECT_TRUE(race.Next(t0_ + milliseconds(9)).cancel.empty());
  EXPECT_TRUE(race.Done());
  EXPECT_EQ(race.Winner(0), 1);
  EXPECT_TRUE(race.Status(0).ok());
  const std::vector<ShardRead> reads = race.Reads();
  EXPECT_EQ(reads[0].backup, Backup::kHedgeWon);
  EXPECT_EQ(reads[0].latency, absl::Milliseconds(3));
}

TEST_F(ReadRaceTest, TheFirstCopyMayStillWin) {
  ReadRace race({Plan(true, milliseconds(5))}, t0_);
  race.Next(t0_ + milliseconds(6));
  race.Finished(0, 0, grpc::Status::OK, t0_ + milliseconds(7));
  EXPECT_EQ(race.Next(t0_ + milliseconds(7)).cancel.size(), 1u);
  race.Finished(0, 1, grpc::Status(grpc::StatusCode::CANCELLED, ""), t0_ + milliseconds(7));
  race.Next(t0_ + milliseconds(7));
  EXPECT_TRUE(race.Done());
  EXPECT_EQ(race.Reads()[0].backup, Backup::kFirstWon);
}

TEST_F(ReadRaceTest, RetriesAFailedCopyAtOnceAndKeepsVerdicts) {
  grpc::Status verdict(grpc::StatusCode::INVALID_ARGUMENT, "bad k");
  ReadRace race({Plan(true), Plan(false), Plan(true)}, t0_);
  race.Finished(0, 0, unavailable_, t0_);
  race.Finished(1, 0, unavailable_, t0_);
  race.Finished(2, 0, verdict, t0_);
  EXPECT_EQ(race.Next(t0_).ask_backup, std::vector<size_t>{0});
  EXPECT_FALSE(race.Done());
  race.Finished(0, 1, unavailable_, t0_ + milliseconds(1));
  race.Next(t0_ + milliseconds(1));
  EXPECT_TRUE(race.Done());
  EXPECT_EQ(race.Status(0).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(race.Status(1).error_code(), grpc::StatusCode::UNAVAILABLE) << "no backup";
  EXPECT_EQ(race.Status(2).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::vector<ShardRead> reads = race.Reads();
  EXPECT_EQ(reads[0].backup, Backup::kRetried);
  EXPECT_FALSE(reads[0].latency.has_value());
  EXPECT_EQ(reads[1].backup, Backup::kNone);
  EXPECT_EQ(reads[2].backup, Backup::kNone);
}

TEST_F(ReadRaceTest, ShardsNotAskedAreSettled) {
  ShardReadPlan skipped = Plan(true);
  skipped.ask = false;
  ReadRace race({skipped}, t0_);
  EXPECT_TRUE(race.Done());
  EXPECT_TRUE(race.Status(0).ok());
}

}  // namespace
}  // namespace adanns::server
