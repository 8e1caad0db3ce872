// Scenarios (2) kill -9 a follower, (3) SIGSTOP a primary, (5) kill -9 a router
// (tests/cluster/replication_faults.h has the fixture and what every scenario asserts).
#include "tests/cluster/replication_faults.h"

namespace adanns::testing::faults {
namespace {

// (2) kill -9 a follower: the shards it only followed keep taking writes after at most the ack
// deadline (it leaves their in-sync sets); a shard it led fails over within 2 x lease + 1 s.
TEST_F(ReplicationFaultsTest, KillingAFollowerLosesNothing) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.2, std::chrono::seconds(3)));
  const v1::CollectionInfo before = Describe(0);
  // A follower of shard 0; preferably one that leads no shard at all.
  std::string victim;
  for (const std::string& node : before.shards(0).replicas()) {
    if (node == before.shards(0).node_id()) continue;
    if (victim.empty() || PrimaryOf(before, node).empty()) victim = node;
  }
  ASSERT_FALSE(victim.empty());
  const std::set<uint32_t> led = PrimaryOf(before, victim);
  ServerProcess* process = Node(victim);
  ASSERT_NE(process, nullptr) << victim;
  process->Kill();
  std::this_thread::sleep_for(Phase(0.8, std::chrono::seconds(15)));

  const Figures figures = Check("kill -9 follower", 0);
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    if (led.contains(shard)) continue;  // a failover: bounded by the check above
    EXPECT_LT(figures.outage[shard], kAckTimeoutSeconds + 2.0)
        << "shard " << shard << " (" << victim << " only followed it)";
  }
  const v1::CollectionInfo after = Describe(0);
  for (const v1::ShardInfo& shard : after.shards()) {
    for (const std::string& node : shard.in_sync()) {
      EXPECT_NE(node, victim) << "shard " << shard.shard() << ": the dead copy is still in sync";
    }
    EXPECT_GE(shard.in_sync_size(), 2) << "shard " << shard.shard();
  }
}

// (3) SIGSTOP a primary past its lease: a follower takes over with the next epoch. After SIGCONT
// the old primary must not get a write acknowledged: a write sent to it directly is refused.
TEST_F(ReplicationFaultsTest, PausedPrimaryIsReplacedAndRefusesWrites) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.2, std::chrono::seconds(3)));
  const v1::CollectionInfo before = Describe(0);
  const std::string old_primary = before.shards(0).node_id();
  ServerProcess* process = Node(old_primary);
  ASSERT_NE(process, nullptr) << old_primary;
  const auto paused_at = Clock::now();
  process->Pause();
  std::this_thread::sleep_for(std::chrono::seconds(2 * kLeaseSeconds));  // past its lease
  std::optional<v1::ShardInfo> promoted;
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<v1::CollectionInfo> now = TryDescribe(0);
        if (!now.has_value()) return false;
        promoted = now->shards(0);
        return promoted->epoch() >= 2 && promoted->node_id() != old_primary;
      },
      std::chrono::seconds(15)))
      << "no follower took over shard 0 (epoch " << (promoted.has_value() ? promoted->epoch() : 0)
      << ")";
  std::cout << "[SIGSTOP primary] shard 0 promoted after <= " << Seconds(Clock::now() - paused_at)
            << " s: " << (promoted.has_value() ? promoted->node_id() : "?") << " epoch "
            << (promoted.has_value() ? promoted->epoch() : 0) << "\n";
  process->Resume();

  // Straight after SIGCONT (the old primary's view of the shard may still be stale): a write
  // sent to it directly is refused.
  v1::ShardUpsertRequest direct;
  direct.set_shard(0);
  std::set<uint64_t> direct_ids;
  {
    uint64_t next = kDirectFirstId;
    const std::vector<uint64_t> ids = NextIds(0, &next, kPerMessage);
    direct_ids.insert(ids.begin(), ids.end());
    *direct.mutable_request() = MessageOf(ids);
  }
  auto stale = ShardStub(old_primary);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::UpsertResponse response;
  const grpc::Status refused = stale->Upsert(&context, direct, &response);
  std::cout << "[SIGSTOP primary] direct write to the old primary: " << refused.error_code() << " "
            << refused.error_message() << "\n";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  // Once it has caught up with etcd, it still refuses (it is a follower now).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  {
    grpc::ClientContext again;
    again.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status later = stale->Upsert(&again, direct, &response);
    EXPECT_EQ(later.error_code(), grpc::StatusCode::UNAVAILABLE) << later.error_message();
  }
  std::this_thread::sleep_for(Phase(0.6, std::chrono::seconds(5)));  // under the new primary

  Check("SIGSTOP primary", 0, direct_ids);
  // The old primary holds writes the new one never had (at least the refused one, committed on
  // it before the refusal): it rejoins shard 0's in-sync set only through a full copy, which
  // drops them.
  const auto rejoin_from = Clock::now();
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<v1::CollectionInfo> now = TryDescribe(0);
        if (!now.has_value()) return false;
        const auto& in_sync = now->shards(0).in_sync();
        return std::find(in_sync.begin(), in_sync.end(), old_primary) != in_sync.end();
      },
      std::chrono::seconds(30)))
      << "the replaced primary did not rejoin shard 0's in-sync set";
  std::cout << "[SIGSTOP primary] old primary back in sync (full copy) after "
            << Seconds(Clock::now() - rejoin_from) << " s\n";
  // The refused write is on no in-sync copy, the old primary's included.
  const v1::CollectionInfo after = Describe(0);
  const std::vector<uint64_t> direct_list(direct_ids.begin(), direct_ids.end());
  for (const std::string& node : after.shards(0).in_sync()) {
    const auto contents = CopyContents(node, 0, direct_list);
    ASSERT_TRUE(contents.has_value()) << node;
    EXPECT_TRUE(contents->empty()) << "the refused write reached the in-sync copy on " << node;
  }
  EXPECT_NE(after.shards(0).node_id(), old_primary);
}

// (5) kill -9 one of two routers mid-load: the clients switch to the other, nothing is lost.
TEST_F(ReplicationFaultsTest, KillingARouterLosesNothing) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.25, std::chrono::seconds(4)));
  routers_[0]->Kill();
  std::this_thread::sleep_for(Phase(0.75, std::chrono::seconds(12)));
  const Figures figures = Check("kill -9 router", 1);
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    EXPECT_LT(figures.outage[shard], 2.0) << "shard " << shard << ": switching routers";
  }
}

}  // namespace
}  // namespace adanns::testing::faults
