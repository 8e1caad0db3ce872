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

absl::StatusOr<std::unique_ptr<NodeMembership>> NodeMembership::Start(
    const RoleOptions& options, std::vector<adanns::v1::ShardMapRecord> restored_maps) {
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
  std::vector<std::pair<std::string, std::string>> restored;
  for (const adanns::v1::ShardMapRecord& map : restored_maps) {
    restored.emplace_back(keys.Collection(map.spec().name()), map.SerializeAsString());
  }
  return std::unique_ptr<NodeMembership>(
      new NodeMembership(std::move(client), keys.Node(options.node_id), record.SerializeAsString(),
                         options.lease_ttl, std::move(restored)));
}

NodeMembership::NodeMembership(std::unique_ptr<EtcdClient> client, std::string key,
                               std::string record, absl::Duration ttl,
                               std::vector<std::pair<std::string, std::string>> restored)
    : client_(std::move(client)),
      key_(std::move(key)),
      record_(std::move(record)),
      ttl_(ttl),
      restored_(std::move(restored)) {
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
      mutex_.Unlock();
      RecordRestoredMaps();
      mutex_.Lock();
      return;
    }
    last_error_ = registration.status();
    spdlog::warn("cannot register in etcd as {} ({}); retrying in {}", key_,
                 registration.status().ToString(), absl::FormatDuration(retry));
    mutex_.AwaitWithTimeout(absl::Condition(&stopping_), retry);
    retry = std::min(retry * 2, ttl_);
  }
}

void NodeMembership::RecordRestoredMaps() {
  for (const auto& [key, record] : restored_) {
    absl::StatusOr<bool> recorded = client_->CompareAndPut(key, record, 0);
    if (!recorded.ok()) {
      spdlog::error("cannot record the restored collection {} in etcd: {}", key,
                    recorded.status().ToString());
    } else if (*recorded) {
      spdlog::info("recorded the restored collection {} in etcd", key);
    } else {
      absl::StatusOr<std::optional<EtcdKeyValue>> present = client_->Get(key);
      if (present.ok() && present->has_value() && (*present)->value != record) {
        spdlog::warn(
            "etcd already records {} with another shard map than the snapshot's: "
            "routers follow etcd's (drop the collection before restoring to get the "
            "snapshot's)",
            key);
      }
    }
  }
}

}  // namespace adanns::cluster
