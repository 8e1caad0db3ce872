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

std::shared_ptr<v1::ShardService::Stub> ShardStubs::For(const std::string& address) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<v1::ShardService::Stub>& stub = stubs_[address];
  if (stub != nullptr) return stub;
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(max_message_bytes_);
  arguments.SetMaxSendMessageSize(max_message_bytes_);
  // A restarted data node is dialled again within a second or two.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> senders;
  if (!cluster_key_.empty()) senders.push_back(ClusterKeySender(cluster_key_));
  stub = v1::ShardService::NewStub(grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials_ != nullptr ? credentials_ : grpc::InsecureChannelCredentials(),
      arguments, std::move(senders)));
  return stub;
}

}  // namespace adanns::server
