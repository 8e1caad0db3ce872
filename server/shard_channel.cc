#include "server/shard_channel.h"

#include <utility>
#include <vector>

#include "server/cluster_key.h"

namespace adanns::server {

std::map<std::string, std::string> LiveNodeAddresses(
    const cluster::EtcdPrefixWatch::Snapshot& nodes) {
  std::map<std::string, std::string> live;
  for (const auto& [key, kv] : nodes) {
    v1::NodeRecord record;
    if (record.ParseFromString(kv.value) && !record.address().empty()) {
      live.emplace(record.node_id(), record.address());
    }
  }
  return live;
}

std::shared_ptr<v1::ShardService::Stub> NewShardStub(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials,
    const std::string& cluster_key, int max_message_bytes) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(max_message_bytes);
  arguments.SetMaxSendMessageSize(max_message_bytes);
  // A restarted data node is dialled again within a second or two.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> senders;
  if (!cluster_key.empty()) senders.push_back(ClusterKeySender(cluster_key));
  if (credentials == nullptr) credentials = grpc::InsecureChannelCredentials();
  return v1::ShardService::NewStub(grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, arguments, std::move(senders)));
}

}  // namespace adanns::server
