// What the replication tests read of each copy of a shard directly from its data node (not
// through a router): the node process behind a node id, a ShardService stub, a copy's contents.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adanns/v1/cluster.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/cluster/docs_collection.h"
#include "tests/cluster/etcd_process.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {

// The flags of a process of the test cluster "t": `role` "data" or "router", leases of
// `lease_seconds`; data nodes drop a follower that has not acked within 1.5 s (below the lease, so
// a dead follower leaves the in-sync set before a failover could be confused with it).
inline std::vector<std::string> TestClusterFlags(const std::string& etcd_endpoint,
                                                 const std::string& role, int lease_seconds) {
  std::vector<std::string> flags = {"--etcd=" + etcd_endpoint, "--cluster=t",
                                    "--lease_seconds=" + std::to_string(lease_seconds),
                                    "--role=" + role};
  if (role == "data") flags.push_back("--replication_ack_timeout_ms=1500");
  return flags;
}

// Serves the process's metrics on a free loopback port; returns the port.
inline int ListenMetrics(std::vector<std::string>* flags) {
  const int port = FreeLoopbackPort();
  flags->push_back("--metrics_listen=127.0.0.1:" + std::to_string(port));
  return port;
}

// Starts `count` data nodes of the test cluster under `dir`/node<N>; with `metrics_ports`, each
// serves its metrics on the port appended there.
inline std::vector<std::unique_ptr<ServerProcess>> StartDataNodes(
    const std::string& etcd_endpoint, const std::string& dir, int count, int lease_seconds,
    std::vector<int>* metrics_ports = nullptr) {
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int n = 0; n < count; ++n) {
    std::vector<std::string> flags = TestClusterFlags(etcd_endpoint, "data", lease_seconds);
    if (metrics_ports != nullptr) metrics_ports->push_back(ListenMetrics(&flags));
    nodes.push_back(std::make_unique<ServerProcess>(dir + "/node" + std::to_string(n), flags));
  }
  return nodes;
}

// The running node process whose id (its advertised 127.0.0.1:PORT) is `node_id`, or null.
inline ServerProcess* NodeProcess(const std::vector<std::unique_ptr<ServerProcess>>& nodes,
                                  const std::string& node_id) {
  for (const auto& node : nodes) {
    if (node->running() && node->target() == node_id) return node.get();
  }
  return nullptr;
}

inline std::unique_ptr<v1::ShardService::Stub> ShardStub(const std::string& node_id) {
  return v1::ShardService::NewStub(
      grpc::CreateChannel(node_id, grpc::InsecureChannelCredentials()));
}

// What the copy of `shard` of collection "docs" on `node_id` holds of `ids` (bounded requests);
// nullopt when a request fails.
inline std::optional<std::map<uint64_t, std::vector<float>>> CopyContents(
    const std::string& node_id, uint32_t shard, const std::vector<uint64_t>& ids) {
  constexpr size_t kIdsPerRequest = 2000;
  std::map<uint64_t, std::vector<float>> found;
  auto stub = ShardStub(node_id);
  for (size_t begin = 0; begin < ids.size(); begin += kIdsPerRequest) {
    v1::ShardGetRequest get;
    get.set_shard(shard);
    get.mutable_request()->set_collection("docs");
    for (size_t i = begin; i < std::min(ids.size(), begin + kIdsPerRequest); ++i) {
      get.mutable_request()->add_ids(ids[i]);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetResponse got;
    if (!stub->Get(&context, get, &got).ok()) return std::nullopt;
    for (const v1::Vector& vector : got.vectors()) {
      found[vector.id()] = {vector.values().begin(), vector.values().end()};
    }
  }
  return found;
}

// Three data nodes and a router of the test cluster on a real etcd, processes under a temp dir,
// with leases of kLeaseSeconds (3 s: a node's renewal runs every second, so a busy node on two
// loaded cores does not lose it).
class ThreeDataNodesTest : public ::testing::Test {
 protected:
  static constexpr int kLeaseSeconds = 3;

  void SetUp() override {
    nodes_ = StartDataNodes(etcd_.endpoint(), dir_.path(), 3, kLeaseSeconds, &node_metrics_);
    std::vector<std::string> flags = TestClusterFlags(etcd_.endpoint(), "router", kLeaseSeconds);
    router_metrics_ = ListenMetrics(&flags);
    router_ = std::make_unique<ServerProcess>(dir_.path() + "/router", flags);
    routed_ = router_->NewStub();
    ASSERT_TRUE(AwaitRegisteredNodes(etcd_, "t", 3));
  }

  // Creates the collection "docs" (kDim, L2) through the router.
  void CreateReplicatedDocs(uint32_t shards, uint32_t replicas) {
    v1::CreateCollectionRequest create;
    create.set_name("docs");
    create.set_dim(kDim);
    create.set_metric(v1::L2);
    create.set_shards(shards);
    create.set_replicas(replicas);
    grpc::ClientContext context;
    v1::CollectionInfo info;
    const grpc::Status created = routed_->CreateCollection(&context, create, &info);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }

  v1::CollectionInfo Describe() {
    grpc::ClientContext context;
    v1::DescribeCollectionRequest request;
    request.set_name("docs");
    v1::CollectionInfo info;
    const grpc::Status status = routed_->DescribeCollection(&context, request, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  TempDir dir_;
  EtcdProcess etcd_{dir_.path()};
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::vector<int> node_metrics_;  // --metrics_listen port of each node
  int router_metrics_ = 0;
  std::unique_ptr<ServerProcess> router_;
  std::unique_ptr<v1::Adanns::Stub> routed_;
};

}  // namespace adanns::testing
