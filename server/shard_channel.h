// How one cluster process reaches data nodes: the live nodes' addresses from the watched node
// records, and ShardService stubs with the cluster's credentials, key and message limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adanns/v1/cluster.grpc.pb.h"
#include "cluster/etcd_watch.h"
#include "grpcpp/grpcpp.h"

namespace adanns::server {

// node id -> HOST:PORT of every node record in `nodes` (/<cluster>/nodes/).
std::map<std::string, std::string> LiveNodeAddresses(
    const cluster::EtcdPrefixWatch::Snapshot& nodes);

// One channel per data node address, made on first use and kept: `credentials` (null:
// plaintext), `cluster_key` sent on every call (empty: none), reconnecting within a second or two
// after the node restarts. Thread-safe.
class ShardStubs {
 public:
  ShardStubs(std::shared_ptr<grpc::ChannelCredentials> credentials, std::string cluster_key,
             int max_message_bytes)
      : credentials_(std::move(credentials)),
        cluster_key_(std::move(cluster_key)),
        max_message_bytes_(max_message_bytes) {}
  std::shared_ptr<v1::ShardService::Stub> For(const std::string& address);

 private:
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const std::string cluster_key_;
  const int max_message_bytes_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<v1::ShardService::Stub>> stubs_;
};

// Of `candidates` (node ids holding copies of the shard), the live one whose applied position
// (ShardService.ReplicaPosition) is furthest ahead, asked with `timeout` each; nullopt when none
// answers. Promoting it keeps every acknowledged write (each in-sync copy has them all) and spares
// the others a full copy for a write in flight that it applied.
struct CopyPosition {
  std::string node;
  v1::WritePosition position;
};
std::optional<CopyPosition> FurthestAhead(ShardStubs& stubs,
                                          const std::map<std::string, std::string>& live,
                                          const std::string& collection, uint32_t shard,
                                          const std::vector<std::string>& candidates,
                                          std::chrono::milliseconds timeout);

}  // namespace adanns::server
