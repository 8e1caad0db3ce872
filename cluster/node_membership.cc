#include "cluster/node_membership.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adanns/v1/cluster.pb.h"
#include "base/status_macros.h"
#include "cluster/shard_map.h"
#include "spdlog/spdlog.h"

namespace adanns::cluster {
namespace {

// Retry pace while etcd is unreachable or the id is still held: doubling up to the lease TTL (a
// stale registration of a crashed predecessor ends within one TTL).
constexpr absl::Duration kFirstRetry = absl::Milliseconds(200);

}  // namespace

absl::StatusOr<std::unique_ptr<NodeMembership>> NodeMembership::Start(const RoleOptions& options) {
  if (options.node_id.empty() || options.advertise.empty()) {
    return absl::InvalidArgumentError("node membership: node id and address not resolved");
  }
  ASSIGN_OR_RETURN(const ClusterKeys keys, ClusterKeys::Create(options.cluster));
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                   EtcdClient::Create(options.EtcdClientOptions()));
  adanns::v1::NodeRecord record;
  record.set_node_id(options.node_id);
  record.set_address(options.advertise);
  record.set_started_unix_ms(absl::ToUnixMillis(absl::Now()));
  return std::unique_ptr<NodeMembership>(
      new NodeMembership(std::move(client), keys.Node(options.node_id), record.SerializeAsString(),
                         options.lease_ttl));
}

NodeMembership::NodeMembership(std::unique_ptr<EtcdClient> client, std::string key,
                               std::string record, absl::Duration ttl)
    : client_(std::move(client)), key_(std::move(key)), record_(std::move(record)), ttl_(ttl) {
  thread_ = std::thread([this] { Register(); });
}

NodeMembership::~NodeMembership() {
  std::unique_ptr<LeaseRegistration> registration;
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    registration = std::move(registration_);
  }
  thread_.join();
  registration.reset();  // revokes: the node leaves now, not one TTL later
}

absl::Status NodeMembership::AwaitRegistered(absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  auto registered = [this]()
                        ABSL_SHARED_LOCKS_REQUIRED(mutex_) { return registration_ != nullptr; };
  if (mutex_.AwaitWithTimeout(absl::Condition(&registered), timeout)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("not registered in etcd as ", key_, " within ",
                                             absl::FormatDuration(timeout), ": ",
                                             last_error_.message()));
}

void NodeMembership::Register() {
  absl::Duration retry = kFirstRetry;
  absl::MutexLock lock(&mutex_);
  while (!stopping_) {
    mutex_.Unlock();
    absl::StatusOr<std::unique_ptr<LeaseRegistration>> registration =
        LeaseRegistration::Start(client_.get(), key_, record_, ttl_);
    mutex_.Lock();
    if (registration.ok()) {
      registration_ = std::move(*registration);
      spdlog::info("registered in etcd as {}", key_);
      return;
    }
    last_error_ = registration.status();
    spdlog::warn("cannot register in etcd as {} ({}); retrying in {}", key_,
                 registration.status().ToString(), absl::FormatDuration(retry));
    mutex_.AwaitWithTimeout(absl::Condition(&stopping_), retry);
    retry = std::min(retry * 2, ttl_);
  }
}

}  // namespace adanns::cluster
