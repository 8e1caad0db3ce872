// How one cluster process reaches data nodes: the live nodes' addresses from the watched node
// records, and ShardService stubs with the cluster's credentials, key and message limits.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "adanns/v1/cluster.grpc.pb.h"
#include "cluster/etcd_watch.h"
#include "grpcpp/grpcpp.h"

namespace adanns::server {

// node id -> HOST:PORT of every node record in `nodes` (/<cluster>/nodes/).
std::map<std::string, std::string> LiveNodeAddresses(
    const cluster::EtcdPrefixWatch::Snapshot& nodes);

// A stub on a new channel to `address`: `credentials` (null: plaintext), `cluster_key` sent on
// every call (empty: none), reconnecting within a second or two after the node restarts.
std::shared_ptr<v1::ShardService::Stub> NewShardStub(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials,
    const std::string& cluster_key, int max_message_bytes);

}  // namespace adanns::server
