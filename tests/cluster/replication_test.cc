// Replicated shards (server/replication.h) on a real etcd, three real data node processes and a
// router: every copy of a shard holds every acknowledged write with identical bytes, followers
// refuse writes, and killing a shard's primary with SIGKILL in the middle of a write stream loses
// no acknowledged write (a follower takes over with the next epoch). Reads through the router: a
// session key pins each shard's copy, a paused follower's searches are hedged to another copy, a
// killed follower's Gets are retried on another.
//
// Timing on two loaded cores: leases of 3 s (a node's lease renewal runs every second, so a busy
// node does not lose it), a follower ack deadline of 1.5 s (below the lease: a dead follower is
// dropped from the in-sync set before a failover could be confused with it).
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "adanns/v1/cluster.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/docs_collection.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/eventually.h"
#include "tests/cluster/scrape.h"
#include "tests/cluster/shard_copies.h"
#include "tests/common/health_check.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kShards = 2;

class ReplicationTest : public ThreeDataNodesTest {
 protected:
  void SetUp() override {
    ThreeDataNodesTest::SetUp();
    if (HasFatalFailure()) return;
    CreateReplicatedDocs(kShards, 3);
  }

  ServerProcess* Node(const std::string& node_id) { return NodeProcess(nodes_, node_id); }

  int MetricsPortOf(const std::string& node_id) const {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (nodes_[n]->target() == node_id) return node_metrics_[n];
    }
    ADD_FAILURE() << "no node " << node_id;
    return 0;
  }

  // Queries each data node has searched (every shard it holds), by node id.
  std::map<std::string, double> SearchedQueries() const {
    std::map<std::string, double> searched;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      searched[nodes_[n]->target()] =
          SeriesSum(ScrapeMetrics(node_metrics_[n]), "adanns_search_mflops_count");
    }
    return searched;
  }

  // An exact search of query `q` through the router.
  grpc::Status Search(uint64_t q, const std::string& session_key,
                      std::chrono::seconds deadline = std::chrono::seconds(30)) {
    v1::SearchRequest request = ExactSearchRequest(q);
    request.set_session_key(session_key);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::SearchResponse response;
    return routed_->Search(&context, request, &response);
  }

  // The data node that is no shard's primary (3 nodes, 2 shards): a follower of both.
  std::string FollowerOfEveryShard() {
    const v1::CollectionInfo info = Describe();
    for (const auto& node : nodes_) {
      bool primary = false;
      for (const v1::ShardInfo& shard : info.shards()) primary |= shard.node_id() == node->target();
      if (!primary) return node->target();
    }
    ADD_FAILURE() << "every node is some shard's primary";
    return "";
  }

  // What one copy of a shard holds of `ids` (a failed read fails the test).
  std::map<uint64_t, std::vector<float>> Contents(const std::string& node_id, uint32_t shard,
                                                  const std::vector<uint64_t>& ids) {
    std::optional<std::map<uint64_t, std::vector<float>>> contents =
        CopyContents(node_id, shard, ids);
    EXPECT_TRUE(contents.has_value()) << "reading the copy of shard " << shard << " on " << node_id;
    return contents.value_or(std::map<uint64_t, std::vector<float>>());
  }

  // Every in-sync copy of every shard holds the same vectors of `ids`; together the shards hold
  // exactly `expected` of them, each with the bytes Row(id) gives.
  void ExpectCopiesAgree(const std::vector<uint64_t>& ids, const std::set<uint64_t>& expected) {
    const v1::CollectionInfo info = Describe();
    ASSERT_EQ(info.shards_size(), static_cast<int>(kShards));
    std::set<uint64_t> held;
    for (const v1::ShardInfo& shard : info.shards()) {
      ASSERT_GE(shard.in_sync_size(), 2) << "shard " << shard.shard();
      std::optional<std::map<uint64_t, std::vector<float>>> first;
      for (const std::string& node : shard.in_sync()) {
        const auto contents = Contents(node, shard.shard(), ids);
        if (!first.has_value()) {
          first = contents;
        } else {
          EXPECT_EQ(contents.size(), first->size()) << "shard " << shard.shard() << " " << node;
          EXPECT_TRUE(contents == *first) << "shard " << shard.shard() << " copy on " << node
                                          << " differs from " << shard.in_sync(0);
        }
      }
      for (const auto& [id, values] : *first) {
        EXPECT_TRUE(held.insert(id).second) << "id " << id << " on two shards";
        EXPECT_EQ(values, Row(id)) << "id " << id;
      }
    }
    EXPECT_EQ(held, expected);
  }
};

TEST_F(ReplicationTest, EveryCopyHoldsEveryAcknowledgedWrite) {
  const grpc::Status written =
      UpsertStream(*routed_, {Message(0, kVectors / 2), Message(kVectors / 2, kVectors)});
  ASSERT_TRUE(written.ok()) << written.error_message();
  v1::DeleteRequest remove;
  remove.set_collection("docs");
  for (uint64_t id = 0; id < 20; ++id) remove.add_ids(id);
  {
    grpc::ClientContext context;
    v1::DeleteResponse deleted;
    ASSERT_TRUE(routed_->Delete(&context, remove, &deleted).ok());
    EXPECT_EQ(deleted.deleted(), 20u);
  }
  const v1::CollectionInfo info = Describe();
  EXPECT_EQ(info.vector_count(), kVectors - 20);
  for (const v1::ShardInfo& shard : info.shards()) {
    EXPECT_EQ(shard.replicas_size(), 3);
    EXPECT_EQ(shard.in_sync_size(), 3) << "a copy fell out of sync without any fault";
    EXPECT_EQ(shard.epoch(), 1u);
    EXPECT_EQ(shard.replicas(0), shard.node_id());
  }
  std::vector<uint64_t> ids;
  std::set<uint64_t> expected;
  for (uint64_t id = 0; id < kVectors; ++id) {
    ids.push_back(id);
    if (id >= 20) expected.insert(id);
  }
  ExpectCopiesAgree(ids, expected);

  // Quiet again: shard 0's primary reports both followers 0 s behind.
  const int primary_metrics = MetricsPortOf(info.shards(0).node_id());
  EXPECT_TRUE(Eventually(
      [&] {
        const std::vector<double> lag = SeriesValues(
            ScrapeMetrics(primary_metrics), "adanns_replication_lag_seconds", {"shard=\"0\""});
        return lag.size() == 2 && lag[0] == 0 && lag[1] == 0;
      },
      std::chrono::seconds(10)))
      << ScrapeMetrics(primary_metrics);

  // A follower refuses a write sent to it directly (only the primary orders writes).
  const v1::ShardInfo& shard = info.shards(0);
  auto follower = ShardStub(shard.replicas(1));
  v1::ShardUpsertRequest direct;
  direct.set_shard(0);
  *direct.mutable_request() = Message(5000, 5001);
  grpc::ClientContext context;
  v1::UpsertResponse response;
  const grpc::Status refused = follower->Upsert(&context, direct, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("is not the primary"));

  // Exact searches through the router (each shard answered by one in-sync copy) find a stored
  // row at distance 0.
  for (uint64_t id : {25ULL, 140ULL, 299ULL}) {
    v1::SearchRequest search;
    search.set_collection("docs");
    search.set_k(1);
    const std::vector<float> query = Row(id);
    search.mutable_query()->Add(query.begin(), query.end());
    search.mutable_budget()->mutable_plan()->set_index("flat");
    grpc::ClientContext search_context;
    v1::SearchResponse found;
    ASSERT_TRUE(routed_->Search(&search_context, search, &found).ok());
    ASSERT_EQ(found.hits_size(), 1);
    EXPECT_EQ(found.hits(0).id(), id);
    EXPECT_FLOAT_EQ(found.hits(0).score(), 0.0f);
  }
}

TEST_F(ReplicationTest, KillingAPrimaryMidLoadLosesNoAcknowledgedWrite) {
  std::atomic<bool> stop{false};
  std::mutex acked_mutex;
  std::set<uint64_t> acked;
  std::vector<Clock::time_point> ack_times;
  constexpr uint64_t kFirstId = 1000;
  constexpr uint64_t kPerMessage = 10;
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  std::thread writer([&] {
    for (uint64_t m = 0; !stop.load() && Clock::now() < give_up; ++m) {
      const uint64_t begin = kFirstId + m * kPerMessage;
      // Retried until acknowledged (upserts by id are idempotent), as a client does.
      while (!stop.load() && Clock::now() < give_up) {
        if (UpsertStream(*routed_, {Message(begin, begin + kPerMessage)}, std::chrono::seconds(10))
                .ok()) {
          std::lock_guard lock(acked_mutex);
          for (uint64_t id = begin; id < begin + kPerMessage; ++id) acked.insert(id);
          ack_times.push_back(Clock::now());
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });
  std::atomic<int> searches{0};
  std::atomic<int> searches_ok{0};
  std::thread reader([&] {
    for (uint64_t q = 0; !stop.load() && Clock::now() < give_up; ++q) {
      grpc::Status status;
      ExactSearch(*routed_, q, /*allow_partial=*/false, &status);
      ++searches;
      if (status.ok()) ++searches_ok;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const v1::ShardInfo before = Describe().shards(0);
  ServerProcess* primary = Node(before.node_id());
  ASSERT_NE(primary, nullptr) << before.node_id();
  const auto killed_at = Clock::now();
  primary->Kill();
  // A follower takes over (epoch 2) once the dead primary's lease runs out.
  EXPECT_TRUE(Eventually(
      [&] {
        const v1::ShardInfo now = Describe().shards(0);
        return now.epoch() >= 2 && now.node_id() != before.node_id();
      },
      std::chrono::seconds(30)));
  // Writes go on under the new primary.
  EXPECT_TRUE(Eventually(
      [&] {
        std::lock_guard lock(acked_mutex);
        return !ack_times.empty() && ack_times.back() > killed_at + std::chrono::seconds(1);
      },
      std::chrono::seconds(20)));
  stop.store(true);
  writer.join();
  reader.join();

  std::vector<uint64_t> ids;
  std::set<uint64_t> expected;
  double longest_gap = 0;
  {
    std::lock_guard lock(acked_mutex);
    expected = acked;
    ids.assign(acked.begin(), acked.end());
    ASSERT_FALSE(ack_times.empty());
    EXPECT_GT(ack_times.back(), killed_at) << "no write acknowledged after the kill";
    for (size_t i = 1; i < ack_times.size(); ++i) {
      longest_gap = std::max(
          longest_gap, std::chrono::duration<double>(ack_times[i] - ack_times[i - 1]).count());
    }
  }
  std::cout << "acknowledged messages " << expected.size() / kPerMessage
            << ", longest write outage " << longest_gap << " s, searches " << searches_ok << "/"
            << searches << " ok\n";
  // The outage of the affected shard: its primary's lease running out, then one controller round.
  EXPECT_LT(longest_gap, 2.0 * kLeaseSeconds + 1.0);
  EXPECT_GE(searches_ok.load(), searches.load() * 99 / 100);

  // 0 lost: every acknowledged id reads back through the router with the bytes sent.
  std::map<uint64_t, std::vector<float>> read;
  ASSERT_TRUE(GetVectors(*routed_, "docs", ids, &read));
  EXPECT_EQ(read.size(), expected.size());
  for (const auto& [id, values] : read) EXPECT_EQ(values, Row(id)) << "id " << id;
  // The dead copy leaves shard 0's in-sync set at the next write at the latest; the copies left
  // agree. (Writes beyond the acknowledged ones may exist: the writer's last attempt can have
  // committed on the shards before its stream was cut.)
  EXPECT_TRUE(Eventually(
      [&] {
        const v1::ShardInfo now = Describe().shards(0);
        for (const std::string& node : now.in_sync()) {
          if (node == before.node_id()) return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  std::vector<uint64_t> all_ids = ids;
  const uint64_t last = ids.empty() ? kFirstId : ids.back();
  for (uint64_t id = last + 1; id <= last + 10 * kPerMessage; ++id) all_ids.push_back(id);
  std::set<uint64_t> stored = expected;
  for (const auto& [id, values] : Contents(Describe().shards(0).node_id(), 0, all_ids)) {
    stored.insert(id);
  }
  for (const auto& [id, values] : Contents(Describe().shards(1).node_id(), 1, all_ids)) {
    stored.insert(id);
  }
  ExpectCopiesAgree(all_ids, stored);
}

// Searches with one session key are served by the same copy of each shard; other keys by others.
TEST_F(ReplicationTest, SessionKeyPinsTheCopyOfEachShard) {
  ASSERT_TRUE(UpsertStream(*routed_, {Message(0, kVectors)}).ok());
  constexpr int kPerKey = 5;
  std::set<std::map<std::string, double>> spreads;
  for (const std::string key : {"alice", "bob", "carol", "dave", "erin", "frank"}) {
    const std::map<std::string, double> before = SearchedQueries();
    for (int q = 0; q < kPerKey; ++q) ASSERT_TRUE(Search(q, key).ok()) << key;
    std::map<std::string, double> spread;
    double total = 0;
    for (const auto& [node, searched] : SearchedQueries()) {
      spread[node] = searched - before.at(node);
      total += spread[node];
      // Every search of the key went to the same copy of each shard.
      EXPECT_EQ(static_cast<int>(spread[node]) % kPerKey, 0) << key << " on " << node;
    }
    EXPECT_EQ(total, kPerKey * kShards) << key;
    spreads.insert(spread);
  }
  EXPECT_GE(spreads.size(), 2u) << "six keys, one choice of copies";
}

// A follower frozen with SIGSTOP keeps its sockets open and answers nothing: a search routed to it
// would wait out its deadline; hedged after the shard's p95 latency, it is answered by another
// copy.
TEST_F(ReplicationTest, SearchesHedgeAroundAPausedFollower) {
  ASSERT_TRUE(UpsertStream(*routed_, {Message(0, kVectors)}).ok());
  for (int q = 0; q < 30; ++q) ASSERT_TRUE(Search(q, "").ok());  // the latency windows fill
  ServerProcess* paused = Node(FollowerOfEveryShard());
  ASSERT_NE(paused, nullptr);
  paused->Pause();
  int ok = 0;
  const auto start = Clock::now();
  for (int q = 0; q < 40; ++q) {
    const grpc::Status status = Search(q, "", std::chrono::seconds(3));
    EXPECT_TRUE(status.ok()) << "search " << q << ": " << status.error_message();
    ok += status.ok() ? 1 : 0;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  paused->Resume();
  const std::string text = ScrapeMetrics(router_metrics_);
  const double hedge_won =
      SeriesSum(text, "adanns_router_hedged_requests_total", {"outcome=\"hedge_won\""});
  std::cout << ok << "/40 searches ok in " << seconds << " s with a paused follower, " << hedge_won
            << " hedges won\n";
  EXPECT_EQ(ok, 40);
  EXPECT_GE(hedge_won, 1) << text;
}

// A killed follower refuses connections until its lease runs out: a Get routed to it is retried
// on another in-sync copy.
TEST_F(ReplicationTest, GetsRetryAKilledFollowersShards) {
  ASSERT_TRUE(UpsertStream(*routed_, {Message(0, kVectors)}).ok());
  std::vector<uint64_t> ids;
  for (uint64_t id = 0; id < kVectors; ++id) ids.push_back(id);
  ServerProcess* follower = Node(FollowerOfEveryShard());
  ASSERT_NE(follower, nullptr);
  follower->Kill();
  for (int round = 0; round < 6; ++round) {
    v1::GetRequest get;
    get.set_collection("docs");
    for (uint64_t id : ids) get.add_ids(id);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetResponse got;
    const grpc::Status status = routed_->Get(&context, get, &got);
    ASSERT_TRUE(status.ok()) << "round " << round << ": " << status.error_message();
    EXPECT_EQ(got.vectors_size(), static_cast<int>(kVectors));
  }
  EXPECT_GE(SeriesSum(ScrapeMetrics(router_metrics_), "adanns_router_retried_requests_total",
                      {"outcome=\"answered\""}),
            1);
}

// A data node's readiness (health service "adanns.copies_in_sync", its k8s readiness probe) is
// NOT_SERVING while one of its copies is out of its shard's in-sync set and SERVING again once the
// copy rejoined; the server's own status ("", liveness) stays SERVING throughout.
TEST_F(ReplicationTest, ADataNodeIsNotReadyWhileACopyIsOutOfSync) {
  const std::string service = "adanns.copies_in_sync";
  for (const auto& node : nodes_) {
    EXPECT_TRUE(Eventually([&] { return HealthCheck(node->target(), service) == kHealthServing; },
                           std::chrono::seconds(10)))
        << node->target() << " not ready with every copy in sync";
  }
  EXPECT_EQ(HealthCheck(router_->target(), service), "") << "a router does not report it";

  // A node that leads no shard misses a write (dropped from the in-sync sets after the ack
  // deadline); with shard 0's primary paused too, it cannot catch up there until a failover.
  const v1::CollectionInfo info = Describe();
  const v1::ShardInfo shard = info.shards(0);
  std::string follower_id;
  for (const auto& node : nodes_) {
    if (node->target() != shard.node_id() && node->target() != info.shards(1).node_id()) {
      follower_id = node->target();
    }
  }
  ServerProcess* follower = Node(follower_id);
  ServerProcess* primary = Node(shard.node_id());
  ASSERT_NE(follower, nullptr);
  ASSERT_NE(primary, nullptr);
  follower->Pause();
  const grpc::Status written = UpsertStream(*routed_, {Message(0, kVectors)});
  ASSERT_TRUE(written.ok()) << written.error_message();
  ASSERT_THAT(Describe().shards(0).in_sync(), ::testing::Not(::testing::Contains(follower_id)));
  primary->Pause();
  follower->Resume();
  EXPECT_TRUE(
      Eventually([&] { return HealthCheck(follower->target(), service) == kHealthNotServing; },
                 std::chrono::seconds(5)))
      << "a node with a copy out of sync reports ready";
  EXPECT_EQ(HealthCheck(follower->target()), kHealthServing) << "liveness must not follow sync";
  primary->Resume();
  EXPECT_TRUE(Eventually([&] { return HealthCheck(follower->target(), service) == kHealthServing; },
                         std::chrono::seconds(30)))
      << "the copy never rejoined (or readiness did not follow)";
}

}  // namespace
}  // namespace adanns::testing
