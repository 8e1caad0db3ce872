// Failover (replication.h): every data node campaigns for the controller key, written under its
// own etcd lease (create-only), so exactly one live node holds it and another takes over once
// that node's lease expires. The holder promotes, for every replicated shard whose primary is no
// longer live, the live in-sync follower furthest ahead, with epoch + 1, in one etcd transaction
// on the shard record's mod revision (a primary that moved the record meanwhile wins; the next
// round looks again). Every acknowledged write is on every in-sync member, so any of them keeps
// them all; the one furthest ahead also keeps writes in flight, sparing the others a full copy.
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "cluster/lease_registration.h"
#include "server/replication.h"
#include "server/replication_group.h"
#include "server/shard_channel.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr auto kControllerRound = std::chrono::milliseconds(250);
// Deadline of asking a follower for its position.
constexpr auto kPositionDeadline = std::chrono::milliseconds(1000);

}  // namespace

void ReplicationManager::ControllerLoop() {
  std::unique_ptr<cluster::LeaseRegistration> held;
  while (!stop_.load()) {
    if (held != nullptr) {
      // A controller paused past its lease lost the key to another node: it stops acting.
      absl::StatusOr<std::optional<cluster::EtcdKeyValue>> key = etcd_->Get(keys_.Controller());
      if (key.ok() && (!key->has_value() || (*key)->value != options_.node_id)) {
        held.reset();
        spdlog::info("node {} no longer runs the failover controller", options_.node_id);
      }
    }
    if (held == nullptr) {
      absl::StatusOr<std::unique_ptr<cluster::LeaseRegistration>> won =
          cluster::LeaseRegistration::Start(etcd_.get(), keys_.Controller(), options_.node_id,
                                            options_.lease_ttl);
      if (won.ok()) {
        held = std::move(*won);
        spdlog::info("node {} runs the cluster's failover controller", options_.node_id);
      }
    }
    if (held != nullptr && nodes_->AwaitSynced(absl::ZeroDuration()).ok() &&
        maps_->AwaitSynced(absl::ZeroDuration()).ok() &&
        states_->AwaitSynced(absl::ZeroDuration()).ok()) {
      FailOverDeadPrimaries();
    }
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, kControllerRound, [this] { return stopping_; });
  }
}

void ReplicationManager::FailOverDeadPrimaries() {
  const std::map<std::string, std::string> live = LiveNodeAddresses(nodes_->Current());
  for (const auto& [key, kv] : maps_->Current()) {
    absl::StatusOr<v1::ShardMapRecord> record = cluster::ParseShardMap(key, kv.value);
    if (!record.ok()) continue;
    const std::string& name = record->spec().name();
    for (const v1::ShardAssignment& assignment : record->shards()) {
      if (cluster::ReplicaNodes(assignment).size() < 2) continue;
      const std::string state_key = keys_.ShardState(name, assignment.shard());
      const std::optional<cluster::EtcdKeyValue> state_kv = states_->Find(state_key);
      std::optional<std::string> bytes;
      if (state_kv.has_value()) bytes = state_kv->value;
      absl::StatusOr<v1::ShardStateRecord> state =
          cluster::EffectiveShardState(state_key, assignment, kv.create_revision, bytes);
      if (!state.ok() || live.contains(state->primary())) continue;

      std::vector<std::string> followers;
      for (const std::string& node : state->in_sync()) {
        if (node != state->primary()) followers.push_back(node);
      }
      const std::optional<CopyPosition> best =
          FurthestAhead(stubs_, live, name, assignment.shard(), followers, kPositionDeadline);
      if (!best.has_value()) continue;  // no live in-sync copy: writes wait for one to return

      v1::ShardStateRecord next;
      next.set_epoch(state->epoch() + 1);
      next.set_primary(best->node);
      next.set_collection_revision(kv.create_revision);
      for (const std::string& node : state->in_sync()) {
        if (node != state->primary()) next.add_in_sync(node);
      }
      absl::StatusOr<bool> written = etcd_->CompareAndPut(
          state_key, next.SerializeAsString(), state_kv.has_value() ? state_kv->mod_revision : 0);
      if (written.ok() && *written) {
        spdlog::warn(
            "failover: shard {} of '{}': primary {} is gone, {} (at epoch {} seq {}) "
            "takes over with epoch {}",
            assignment.shard(), name, state->primary(), best->node, best->position.epoch(),
            best->position.seq(), next.epoch());
        if (metrics_ != nullptr) metrics_->RecordFailover(name);
      }
    }
  }
}

}  // namespace adanns::server
