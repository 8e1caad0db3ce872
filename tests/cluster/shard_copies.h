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
#include "tests/integration/server_process.h"

namespace adanns::testing {

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

}  // namespace adanns::testing
