// Cluster snapshots through the router: per-shard checkpoints on the data nodes (ShardService
// SnapshotShard), recorded in etcd once every one was taken.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/router.h"
#include "server/shard_fanout.h"
#include "server/snapshots.h"

namespace adanns::server {

absl::Status Router::CreateSnapshot(const v1::CreateSnapshotRequest& request,
                                    v1::SnapshotInfo* response, Deadline deadline) {
  const std::string name = request.name().empty() ? DefaultSnapshotName() : request.name();
  RETURN_IF_ERROR(ValidateSnapshotName(name));
  const std::string key = keys_.Snapshot(name);
  ASSIGN_OR_RETURN(const std::optional<cluster::EtcdKeyValue> taken, etcd_->Get(key));
  if (taken.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("snapshot '", name, "' already exists"));
  }
  RETURN_IF_ERROR(collections_->AwaitSynced(absl::Seconds(2)));
  const std::string prefix = keys_.CollectionsPrefix();
  v1::SnapshotInfo info;
  info.set_name(name);
  info.set_path(name);
  for (const auto& [collection_key, kv] : collections_->Current()) {
    const std::string collection = collection_key.substr(prefix.size());
    ASSIGN_OR_RETURN(const Route route, Resolve(collection));
    std::vector<v1::ShardSnapshotRequest> parts(route.shard_count());
    const auto replies = FanOut<v1::ShardSnapshotInfo>(
        route.shard_count(), deadline,
        [&](size_t i, grpc::ClientContext* context, v1::ShardSnapshotInfo* reply,
            std::function<void(grpc::Status)> done) {
          parts[i].set_shard(static_cast<uint32_t>(i));
          parts[i].set_name(name);
          *parts[i].mutable_map() = route.record;
          if (route.stubs[i] == nullptr) {
            done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is not live"));
            return;
          }
          route.stubs[i]->async()->SnapshotShard(context, &parts[i], reply, std::move(done));
        });
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].status.ok()) {
        // Not recorded: ListSnapshots shows only complete ones. The checkpoints taken stay on
        // their nodes (a retry under another name does not need them).
        const absl::Status failed =
            ShardUnreachable(replies[i].status)
                ? ShardUnavailable(collection, i, route.node_ids[i], replies[i].status)
                : ShardVerdict(route.node_ids[i], replies[i].status);
        return absl::Status(failed.code(),
                            absl::StrCat("snapshot '", name, "' not taken: ", failed.message(),
                                         " (checkpoints already made stay under the data nodes' "
                                         "--snapshot_dir/",
                                         name, ")"));
      }
      v1::ShardSnapshotInfo* shard = info.add_shards();
      *shard = replies[i].response;
      shard->set_node_id(route.node_ids[i]);
      info.set_bytes(info.bytes() + shard->bytes());
    }
  }
  info.set_created_unix_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  ASSIGN_OR_RETURN(const bool recorded, etcd_->CompareAndPut(key, info.SerializeAsString(),
                                                             /*expected_mod_revision=*/0));
  if (!recorded) {
    return absl::AlreadyExistsError(absl::StrCat("snapshot '", name, "' already exists"));
  }
  *response = std::move(info);
  return absl::OkStatus();
}

absl::Status Router::ListSnapshots(v1::ListSnapshotsResponse* response) {
  ASSIGN_OR_RETURN(const cluster::EtcdRange range, etcd_->GetPrefix(keys_.SnapshotsPrefix()));
  for (const cluster::EtcdKeyValue& kv : range.kvs) {
    v1::SnapshotInfo info;
    if (!info.ParseFromString(kv.value)) {
      return absl::DataLossError(absl::StrCat("etcd key ", kv.key, " is not a snapshot record"));
    }
    *response->add_snapshots() = std::move(info);
  }
  return absl::OkStatus();
}

}  // namespace adanns::server
