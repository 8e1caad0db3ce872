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

std::optional<CopyPosition> FurthestAhead(ShardStubs& stubs,
                                          const std::map<std::string, std::string>& live,
                                          const std::string& collection, uint32_t shard,
                                          const std::vector<std::string>& candidates,
                                          std::chrono::milliseconds timeout) {
  auto ahead = [](const v1::WritePosition& a, const v1::WritePosition& b) {
    return a.epoch() != b.epoch() ? a.epoch() > b.epoch() : a.seq() > b.seq();
  };
  std::optional<CopyPosition> best;
  for (const std::string& node : candidates) {
    auto address = live.find(node);
    if (address == live.end()) continue;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    v1::ShardRequest request;
    request.set_collection(collection);
    request.set_shard(shard);
    v1::WritePosition position;
    if (!stubs.For(address->second)->ReplicaPosition(&context, request, &position).ok()) continue;
    if (!best.has_value() || ahead(position, best->position)) best = CopyPosition{node, position};
  }
  return best;
}

}  // namespace adanns::server
