// Scenarios (4) restart a killed data node (WAL delta, full copy) and (6) kill -9 the etcd leader
// (tests/cluster/replication_faults.h has the fixture and what every scenario asserts).
#include "tests/cluster/replication_faults.h"

namespace adanns::testing::faults {
namespace {

// (4) kill -9 a data node, let the load go on under the new primaries, restart it on the same
// address (so the same node id) with its data: it catches up on every shard (each has a copy on
// it) and rejoins every in-sync set. The path shows in the primaries' (the surviving nodes')
// adanns_replication_catch_ups_total{path}, counted by the node serving the catch-up:
// - WalDelta, the default retention (a day, 4 GiB): every shard from the primary's WAL, no full
//   copy. The victim's own shards are quiet when it is killed: an unacknowledged write it had
//   committed as their primary is one the new primary never had, which needs a full copy
//   whatever the retention (the FullCopy case kills it under load and covers that too);
// - FullCopy, retention of 1 s and, while it is down, two cluster snapshots 3 s apart: with these
//   8-dim rows no memtable fills, and a checkpoint flushes every memtable, so the primaries' WAL
//   files holding its position are archived by the first and deleted by the second: a full copy
//   of every shard. (No --wal_retention_mb: with both limits set, RocksDB purges the archive only
//   every 10 minutes; with the age limit alone, every half of it.)
struct Retention {
  std::string name;
  std::vector<std::string> flags;
  bool full_copy;
};
void PrintTo(const Retention& retention, std::ostream* out) { *out << retention.name; }

class ReplicationFaultsRestartTest : public ReplicationFaultsTest,
                                     public ::testing::WithParamInterface<Retention> {
 protected:
  ClusterSetup Setup() const override {
    return {.etcd_members = 1, .node_flags = GetParam().flags};
  }

  // Cluster snapshots flush the primaries' memtables (see above).
  void Snapshot(const std::string& name) {
    v1::CreateSnapshotRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::SnapshotInfo info;
    const grpc::Status status = stubs_[0]->CreateSnapshot(&context, request, &info);
    EXPECT_TRUE(status.ok()) << "snapshot " << name << ": " << status.error_message();
  }
};

TEST_P(ReplicationFaultsRestartTest, CatchesUpAndRejoins) {
  const std::string scenario = "restart killed node, " + GetParam().name;
  StartLoad();
  std::this_thread::sleep_for(Phase(0.2, std::chrono::seconds(3)));
  const v1::CollectionInfo before = Describe(0);
  const std::string victim = before.shards(0).node_id();
  const size_t index = NodeIndex(victim);
  ASSERT_LT(index, nodes_.size()) << victim;
  if (!GetParam().full_copy) HoldWriters(PrimaryOf(before, victim));
  nodes_[index]->Kill();
  ReleaseWriters();
  // Down, under load: its shards fail over first (within 2 x lease + 1 s).
  const auto back_at = Clock::now() + Phase(0.4, std::chrono::seconds(8));
  if (GetParam().full_copy) {
    // Once every shard has a live primary: a snapshot asks each shard's primary.
    EXPECT_TRUE(Eventually(
        [&] {
          const std::optional<v1::CollectionInfo> now = TryDescribe(0);
          return now.has_value() && PrimaryOf(*now, victim).empty();
        },
        std::chrono::seconds(15)));
    Snapshot("while-down-1");
    // The archive's files then are older than the 1-s retention (RocksDB counts whole seconds).
    std::this_thread::sleep_for(std::chrono::seconds(3));
    Snapshot("while-down-2");
  }
  std::this_thread::sleep_until(back_at);
  const double wal_before = NodeCounter("adanns_replication_catch_ups_total", {"path=\"wal\""});
  const double copies_before =
      NodeCounter("adanns_replication_catch_ups_total", {"path=\"full_copy\""});
  ASSERT_GE(wal_before, 0);
  ASSERT_GE(copies_before, 0);

  RestartNode(index);
  const auto restarted_at = Clock::now();
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<v1::CollectionInfo> now = TryDescribe(0);
        if (!now.has_value()) return false;
        for (const v1::ShardInfo& shard : now->shards()) {
          const auto& in_sync = shard.in_sync();
          if (std::find(in_sync.begin(), in_sync.end(), victim) == in_sync.end()) return false;
        }
        return true;
      },
      std::chrono::seconds(40)))
      << "the restarted node did not rejoin every shard's in-sync set";
  std::cout << "[" << scenario << "] back in every in-sync set after "
            << Seconds(Clock::now() - restarted_at) << " s\n";
  std::this_thread::sleep_for(Phase(0.3, std::chrono::seconds(2)));  // load with it back
  Check(scenario, 0);

  // What the surviving nodes served it (it is a follower of every shard now).
  const double wal =
      NodeCounter("adanns_replication_catch_ups_total", {"path=\"wal\""}, index) - wal_before;
  const double copies =
      NodeCounter("adanns_replication_catch_ups_total", {"path=\"full_copy\""}, index) -
      copies_before;
  std::cout << "[" << scenario << "] catch-ups served while it rejoined: wal " << wal
            << ", full_copy " << copies << "\n";
  if (GetParam().full_copy) {
    EXPECT_GE(copies, kShards) << "every shard's WAL had dropped its position";
  } else {
    EXPECT_GE(wal, kShards) << "every shard resumes from the primary's WAL";
    EXPECT_EQ(copies, 0) << "the WAL held every shard's position";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Retention, ReplicationFaultsRestartTest,
    ::testing::Values(
        Retention{"WalDelta", {"--wal_retention_seconds=86400", "--wal_retention_mb=4096"}, false},
        Retention{"FullCopy", {"--wal_retention_seconds=1", "--wal_retention_mb=0"}, true}),
    [](const ::testing::TestParamInfo<Retention>& param) { return param.param.name; });

// (6) kill -9 the leader of a 3-member etcd cluster mid-load, the member every data node and
// router was started talking to (it is first in their --etcd list of all three): the others elect
// a new leader, which keeps the leases; nodes and routers move on to a live member. Writes and
// searches go on, no data node loses its lease: no shard fails over (same primary, same epoch) and
// every node stays registered.
class ReplicationFaultsEtcdTest : public ReplicationFaultsTest {
 protected:
  ClusterSetup Setup() const override { return {.etcd_members = 3, .node_flags = {}}; }
};

TEST_F(ReplicationFaultsEtcdTest, KillingTheEtcdLeaderFailsNothingOver) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.25, std::chrono::seconds(4)));
  const v1::CollectionInfo before = Describe(0);
  int leader = -1;
  ASSERT_TRUE(Eventually([&] { return (leader = etcd_->Leader()) >= 0; }, std::chrono::seconds(5)));
  etcd_->member(leader).Kill();
  // Leadership may have moved since the start (then the clients' first member lives on).
  std::cout << "[kill -9 etcd leader] killed member " << leader << ", "
            << (etcd_->endpoints(leader) == etcd_endpoints_ ? "" : "not ")
            << "the one the nodes and routers used\n";
  std::this_thread::sleep_for(Phase(0.75, std::chrono::seconds(12)));
  std::cout << "[kill -9 etcd leader] new leader: member " << etcd_->Leader() << "\n";

  Check("kill -9 etcd leader", 0);
  const v1::CollectionInfo after = Describe(0);
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    EXPECT_EQ(after.shards(shard).epoch(), before.shards(shard).epoch()) << "shard " << shard;
    EXPECT_EQ(after.shards(shard).node_id(), before.shards(shard).node_id()) << "shard " << shard;
  }
  EXPECT_EQ(NodeCounter("adanns_replication_failovers_total", {}), 0);
  EXPECT_TRUE(AwaitRegisteredNodes(*etcd_->NewClient(), "t", 3, std::chrono::seconds(1)));
}

}  // namespace
}  // namespace adanns::testing::faults
