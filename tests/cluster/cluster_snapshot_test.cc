// A cluster snapshot through the router: per-shard checkpoints that restore node by node, each
// node taking only its own shards from a snapshot directory the nodes share.
#include <filesystem>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/docs_collection.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/eventually.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

TEST(ClusterSnapshotTest, PerShardCheckpointsRestoreNodeByNode) {
  TempDir dir;
  EtcdProcess etcd(dir.path() + "/etcd");
  const std::vector<std::string> cluster = {"--etcd=" + etcd.endpoint(), "--cluster=s",
                                            "--lease_seconds=2"};
  // Data node n: a fixed node id (the shard map names it); both write their checkpoints into one
  // snapshot directory (as on one machine), and each restores only its own shards from it.
  auto node = [&](int n, const std::string& data, const std::string& restore_from = "") {
    std::vector<std::string> flags = cluster;
    flags.push_back("--role=data");
    flags.push_back("--node_id=node" + std::to_string(n));
    flags.push_back("--snapshot_dir=" + dir.path() + "/snapshots");
    if (!restore_from.empty()) flags.push_back("--restore_from=" + restore_from);
    return std::make_unique<ServerProcess>(dir.path() + "/" + data + std::to_string(n), flags);
  };
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int n = 0; n < 2; ++n) nodes.push_back(node(n, "live"));
  std::vector<std::string> router_flags = cluster;
  router_flags.push_back("--role=router");
  ServerProcess router(dir.path() + "/router", router_flags);
  ASSERT_TRUE(AwaitRegisteredNodes(etcd, "s", 2));
  auto stub = router.NewStub();
  v1::CollectionInfo created;
  ASSERT_TRUE(CreateDocs(*stub, 3, &created).ok());
  ASSERT_TRUE(UpsertStream(*stub, {Message(0, kVectors)}).ok());
  std::vector<v1::SearchResponse> before;
  grpc::Status status;
  for (uint64_t q = 0; q < 10; ++q) {
    before.push_back(ExactSearch(*stub, q, false, &status));
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  auto snapshot = [&](const std::string& name, v1::SnapshotInfo* info) {
    v1::CreateSnapshotRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    return stub->CreateSnapshot(&context, request, info);
  };
  v1::SnapshotInfo info;
  status = snapshot("nightly", &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.name(), "nightly");
  ASSERT_EQ(info.shards_size(), 3);
  uint64_t bytes = 0;
  for (const v1::ShardSnapshotInfo& shard : info.shards()) {
    EXPECT_EQ(shard.collection(), "docs");
    EXPECT_THAT(shard.node_id(), ::testing::AnyOf("node0", "node1"));
    EXPECT_TRUE(std::filesystem::exists(shard.path() + "/CURRENT")) << shard.path();
    bytes += shard.bytes();
  }
  EXPECT_EQ(info.bytes(), bytes);
  EXPECT_GT(bytes, 0u);
  v1::SnapshotInfo again;
  EXPECT_EQ(snapshot("nightly", &again).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(snapshot("../up", &again).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext context;
    v1::ListSnapshotsResponse listed;
    ASSERT_TRUE(stub->ListSnapshots(&context, v1::ListSnapshotsRequest(), &listed).ok());
    ASSERT_EQ(listed.snapshots_size(), 1);
    EXPECT_EQ(listed.snapshots(0).name(), "nightly");
    EXPECT_EQ(listed.snapshots(0).shards_size(), 3);
  }

  // After the snapshot: more writes, then the collection is dropped and both nodes stop.
  ASSERT_TRUE(UpsertStream(*stub, {Message(kVectors, kVectors + 50)}).ok());
  {
    grpc::ClientContext context;
    v1::DropCollectionRequest drop;
    drop.set_name("docs");
    v1::DropCollectionResponse dropped;
    ASSERT_TRUE(stub->DropCollection(&context, drop, &dropped).ok());
  }
  for (auto& live : nodes) EXPECT_EQ(live->Stop(), 0);
  nodes.clear();
  ASSERT_TRUE(AwaitRegisteredNodes(etcd, "s", 0));

  // Each node restored from its own part into an empty data dir: the collection is recorded again
  // from the snapshot's shard map and answers as it did when the snapshot was taken.
  for (int n = 0; n < 2; ++n) {
    nodes.push_back(node(n, "restored", dir.path() + "/snapshots/nightly"));
  }
  ASSERT_TRUE(AwaitRegisteredNodes(etcd, "s", 2));
  for (int n = 0; n < 2; ++n) {  // each took only the shards the map gives it
    std::set<std::string> restored;
    const std::string shards = dir.path() + "/restored" + std::to_string(n) + "/shards/docs";
    for (const auto& entry : std::filesystem::directory_iterator(shards)) {
      if (entry.is_directory()) restored.insert(entry.path().filename().string());
    }
    std::set<std::string> expected;
    for (const v1::ShardInfo& shard : created.shards()) {
      if (shard.node_id() == "node" + std::to_string(n)) {
        expected.insert(std::to_string(shard.shard()));
      }
    }
    EXPECT_EQ(restored, expected) << "node" << n;
  }
  ASSERT_TRUE(Eventually(
      [&] {
        v1::DescribeCollectionRequest describe;
        describe.set_name("docs");
        grpc::ClientContext context;
        v1::CollectionInfo described;
        return stub->DescribeCollection(&context, describe, &described).ok() &&
               described.vector_count() == kVectors;
      },
      std::chrono::seconds(20)));
  for (uint64_t q = 0; q < 10; ++q) {
    const v1::SearchResponse after = ExactSearch(*stub, q, false, &status);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(after.hits_size(), before[q].hits_size());
    for (int i = 0; i < after.hits_size(); ++i) {
      EXPECT_EQ(after.hits(i).id(), before[q].hits(i).id()) << "query " << q << " rank " << i;
    }
  }
}

}  // namespace
}  // namespace adanns::testing
