// ReplicationManager: the shard groups from etcd, the primary's write admission and ack rule, and
// in-sync set changes (replication.h).
#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "server/replication.h"
#include "server/replication_group.h"
#include "server/shard_channel.h"
#include "server/thread_priority.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// How often groups are rebuilt even without an etcd change (a shard created here after its map
// was written shows up within this).
constexpr auto kReconcileEvery = std::chrono::milliseconds(500);

std::string ShardName(const std::string& collection, uint32_t shard) {
  return absl::StrCat("shard ", shard, " of '", collection, "'");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicationManager>> ReplicationManager::Start(
    ReplicationOptions options, ShardHost* host, Metrics* metrics) {
  ASSIGN_OR_RETURN(cluster::ClusterKeys keys, cluster::ClusterKeys::Create(options.cluster));
  if (options.node_id.empty()) return absl::InvalidArgumentError("replication needs a node id");
  ASSIGN_OR_RETURN(std::unique_ptr<cluster::EtcdClient> etcd,
                   cluster::EtcdClient::Create(options.etcd));
  std::unique_ptr<ReplicationManager> manager(
      new ReplicationManager(std::move(options), std::move(keys), std::move(etcd), host, metrics));
  // The first reconcile runs once the records are listed, so that no write reaches a replicated
  // shard before its role is known (AdmitWrite refuses until then).
  manager->reconciler_ = std::thread([m = manager.get()] {
    NameThisThread("adanns-reconcile");
    m->ReconcileLoop();
  });
  manager->controller_ = std::thread([m = manager.get()] {
    NameThisThread("adanns-control");
    m->ControllerLoop();
  });
  return manager;
}

ReplicationManager::ReplicationManager(ReplicationOptions options, cluster::ClusterKeys keys,
                                       std::unique_ptr<cluster::EtcdClient> etcd, ShardHost* host,
                                       Metrics* metrics)
    : options_(std::move(options)),
      keys_(std::move(keys)),
      etcd_(std::move(etcd)),
      host_(host),
      metrics_(metrics),
      stubs_(options_.credentials, options_.cluster_key, options_.max_message_bytes) {
  auto wake = [this](const cluster::EtcdPrefixWatch::Snapshot&) { wake_.notify_all(); };
  maps_ = std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.CollectionsPrefix(), wake);
  states_ = std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.ShardsPrefix(), wake);
  nodes_ = std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.NodesPrefix(), wake);
}

void ReplicationManager::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  stop_.store(true);
  wake_.notify_all();
  std::lock_guard lock(mutex_);
  for (auto& [name, group] : groups_) {
    {
      std::lock_guard group_lock(group->mutex);
      if (group->follow_context != nullptr) group->follow_context->TryCancel();
    }
    group->changed.notify_all();
  }
}

ReplicationManager::~ReplicationManager() {
  Stop();
  if (reconciler_.joinable()) reconciler_.join();
  if (controller_.joinable()) controller_.join();
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<Group>> groups;
  {
    std::lock_guard lock(mutex_);
    groups.swap(groups_);
  }
  for (auto& [name, group] : groups) {
    {
      std::lock_guard lock(group->mutex);
      group->stop_following = true;
      if (group->follow_context != nullptr) group->follow_context->TryCancel();
    }
    group->changed.notify_all();
    if (group->follower.joinable()) group->follower.join();
  }
  // Their callbacks notify wake_, which is destroyed before them (declared after them).
  maps_.reset();
  states_.reset();
  nodes_.reset();
}

void ReplicationManager::Wake() { wake_.notify_all(); }

void ReplicationManager::ReconcileLoop() {
  while (!stop_.load()) {
    if (maps_->AwaitSynced(absl::ZeroDuration()).ok() &&
        states_->AwaitSynced(absl::ZeroDuration()).ok()) {
      Reconcile();
    }
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, kReconcileEvery, [this] { return stopping_; });
  }
}

void ReplicationManager::Reconcile() {
  std::lock_guard reconciling(reconcile_mutex_);
  const cluster::EtcdPrefixWatch::Snapshot maps = maps_->Current();
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<Group>> current;
  for (const auto& [key, kv] : maps) {
    absl::StatusOr<v1::ShardMapRecord> record = cluster::ParseShardMap(key, kv.value);
    if (!record.ok()) continue;
    const std::string& name = record->spec().name();
    for (const v1::ShardAssignment& assignment : record->shards()) {
      const std::vector<std::string> replicas = cluster::ReplicaNodes(assignment);
      if (replicas.size() < 2 ||
          std::find(replicas.begin(), replicas.end(), options_.node_id) == replicas.end()) {
        continue;
      }
      std::shared_ptr<Group> group = FindGroup(name, assignment.shard());
      if (group == nullptr || group->collection_revision != kv.create_revision) {
        group = std::make_shared<Group>();
        group->collection = name;
        group->shard = assignment.shard();
        group->state_key = keys_.ShardState(name, assignment.shard());
        group->collection_revision = kv.create_revision;
      }
      const std::optional<cluster::EtcdKeyValue> state_kv = states_->Find(group->state_key);
      std::optional<std::string> state_bytes;
      if (state_kv.has_value()) state_bytes = state_kv->value;
      absl::StatusOr<v1::ShardStateRecord> state = cluster::EffectiveShardState(
          group->state_key, assignment, kv.create_revision, state_bytes);
      if (!state.ok()) {
        spdlog::error("{}", std::string(state.status().message()));
        continue;
      }
      absl::StatusOr<std::shared_ptr<HostedShard>> hosted = host_->Find(name, assignment.shard());
      {
        std::lock_guard lock(group->mutex);
        // A move adds a copy, then removes one: the copies change, min_in_sync follows the
        // collection's replica count (not the copies of the moment).
        group->replicas = replicas;
        group->min_in_sync = cluster::MinInSync(record->spec().replicas() != 0
                                                    ? record->spec().replicas()
                                                    : static_cast<uint32_t>(replicas.size()));
        if (hosted.ok()) group->hosted = *hosted;
        const int64_t watched = state_kv.has_value() ? state_kv->mod_revision : 0;
        // The primary's own transactions update the group before the watch shows them.
        if (watched >= group->state_mod_revision) {
          const bool epoch_changed = state->epoch() != group->state.epoch();
          group->state = *state;
          group->state_mod_revision = watched;
          if (epoch_changed && group->follow_context != nullptr) {
            group->follow_context->TryCancel();  // follow the new primary
          }
        }
        if (group->hosted != nullptr) {
          group->hosted->engine().store().SetReplicationEpoch(
              group->IsPrimary(options_.node_id) ? group->state.epoch() : 0);
        }
        if (metrics_ != nullptr) {
          metrics_->SetReplicaState(name, assignment.shard(), group->IsPrimary(options_.node_id),
                                    static_cast<double>(group->state.epoch()),
                                    group->state.in_sync_size());
        }
      }
      group->changed.notify_all();
      current[{name, assignment.shard()}] = group;
    }
  }
  std::vector<std::shared_ptr<Group>> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, group] : groups_) {
      auto kept = current.find(name);
      if (kept == current.end() || kept->second != group) gone.push_back(group);
    }
    groups_ = current;
  }
  for (const std::shared_ptr<Group>& group : gone) {
    {
      std::lock_guard lock(group->mutex);
      group->stop_following = true;
      if (group->follow_context != nullptr) group->follow_context->TryCancel();
    }
    group->changed.notify_all();
    if (group->follower.joinable()) group->follower.join();
  }
  // Followers: one thread per group this node follows (it exits when the node becomes primary).
  for (auto& entry : current) {
    const std::shared_ptr<Group> group = entry.second;
    std::thread finished;
    {
      std::lock_guard lock(group->mutex);
      if (group->follower.joinable() && group->follower_done) finished.swap(group->follower);
    }
    if (finished.joinable()) finished.join();
    std::lock_guard lock(group->mutex);
    if (group->IsPrimary(options_.node_id) || group->hosted == nullptr) continue;
    if (group->follower.joinable() || group->stop_following) continue;
    group->follower_done = false;
    group->follower = std::thread([this, group] { FollowLoop(group); });
  }
}

std::shared_ptr<ReplicationManager::Group> ReplicationManager::FindGroup(
    const std::string& collection, uint32_t shard) const {
  std::lock_guard lock(mutex_);
  auto found = groups_.find({collection, shard});
  return found == groups_.end() ? nullptr : found->second;
}

bool ReplicationManager::CopiesInSync(std::string* lagging) const {
  if (stop_.load() || !maps_->AwaitSynced(absl::ZeroDuration()).ok() ||
      !states_->AwaitSynced(absl::ZeroDuration()).ok()) {
    if (lagging != nullptr) *lagging = "replication state not loaded";
    return false;
  }
  std::lock_guard lock(mutex_);
  for (const auto& [name, group] : groups_) {
    std::lock_guard group_lock(group->mutex);
    if (group->IsPrimary(options_.node_id) || group->InSync(options_.node_id)) continue;
    if (lagging != nullptr) {
      *lagging = ShardName(group->collection, group->shard) + " is not in its in-sync set";
    }
    return false;
  }
  return true;
}

std::string ReplicationManager::AddressOf(const std::string& node_id) const {
  const std::map<std::string, std::string> live = LiveNodeAddresses(nodes_->Current());
  auto found = live.find(node_id);
  return found == live.end() ? std::string() : found->second;
}

absl::Status ReplicationManager::AdmitWrite(const std::string& collection, uint32_t shard) {
  // Before the first listing a replicated shard would pass as unreplicated: its write committed
  // untagged (never streamed) and acknowledged on this copy alone.
  if (stop_.load() || !maps_->AwaitSynced(absl::ZeroDuration()).ok() ||
      !states_->AwaitSynced(absl::ZeroDuration()).ok()) {
    return absl::UnavailableError(absl::StrCat(ShardName(collection, shard), " on node ",
                                               options_.node_id,
                                               ": replication state not loaded; retry"));
  }
  std::shared_ptr<Group> group = FindGroup(collection, shard);
  if (group == nullptr) {
    // Unreplicated (the common case: nothing more to do), or replicated in a collection created a
    // moment ago whose groups the next round would set up: set them up now.
    const std::optional<cluster::EtcdKeyValue> map = maps_->Find(keys_.Collection(collection));
    if (!map.has_value()) return absl::OkStatus();
    absl::StatusOr<v1::ShardMapRecord> record =
        cluster::ParseShardMap(keys_.Collection(collection), map->value);
    if (!record.ok() || shard >= static_cast<uint32_t>(record->shards_size())) {
      return absl::OkStatus();
    }
    const std::vector<std::string> copies =
        cluster::ReplicaNodes(record->shards(static_cast<int>(shard)));
    if (std::find(copies.begin(), copies.end(), options_.node_id) == copies.end()) {
      // Moved away (MoveShard): a router that has not seen the new map yet retries there.
      return absl::UnavailableError(
          absl::StrCat("node ", options_.node_id, " no longer holds ", ShardName(collection, shard),
                       " (its copies: ", absl::StrJoin(copies, ","), "); retry"));
    }
    if (copies.size() < 2) return absl::OkStatus();
    Reconcile();
    group = FindGroup(collection, shard);
    if (group == nullptr) {
      return absl::UnavailableError(absl::StrCat(ShardName(collection, shard), " on node ",
                                                 options_.node_id,
                                                 ": replication state not loaded yet; retry"));
    }
  }
  absl::StatusOr<std::shared_ptr<HostedShard>> hosted = host_->Find(collection, shard);
  std::lock_guard lock(group->mutex);
  if (group->hosted == nullptr && hosted.ok()) group->hosted = *hosted;  // created a moment ago
  if (!group->IsPrimary(options_.node_id)) {
    return absl::UnavailableError(absl::StrCat(
        "node ", options_.node_id, " is not the primary of ", ShardName(collection, shard),
        " (epoch ", group->state.epoch(), ", primary ", group->state.primary(), "); retry"));
  }
  if (group->hosted == nullptr) {
    return absl::UnavailableError(absl::StrCat(ShardName(collection, shard), " not open yet"));
  }
  if (group->follower.joinable() && !group->follower_done) {
    // Just promoted: the follower thread may still commit a write of the old primary after one
    // of ours, and a follower resuming after that write would skip ours yet ack past it.
    return absl::UnavailableError(absl::StrCat(ShardName(collection, shard), " on node ",
                                               options_.node_id,
                                               ": still becoming primary; retry"));
  }
  group->hosted->engine().store().SetReplicationEpoch(group->state.epoch());
  if (static_cast<uint32_t>(group->state.in_sync_size()) < group->min_in_sync) {
    return absl::UnavailableError(
        absl::StrCat(ShardName(collection, shard), " has ", group->state.in_sync_size(),
                     " in-sync copies; writes need min_in_sync = ", group->min_in_sync,
                     " (they resume once a replica catches up)"));
  }
  return absl::OkStatus();
}

absl::Status ReplicationManager::AwaitReplicated(const std::string& collection, uint32_t shard,
                                                 uint64_t seq) {
  std::shared_ptr<Group> group = FindGroup(collection, shard);
  if (group == nullptr) return absl::OkStatus();
  std::set<std::string> members;
  {
    // The set as of after the commit: a follower added later had already applied `seq`.
    std::lock_guard membership(group->membership);
    std::lock_guard lock(group->mutex);
    group->last_write_seq = std::max(group->last_write_seq, seq);
    group->NoteWrite(seq, std::chrono::steady_clock::now());
    for (const std::string& node : group->state.in_sync()) {
      if (node != options_.node_id) members.insert(node);
    }
  }
  group->changed.notify_all();  // wakes the senders
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.ack_timeout);
  for (;;) {
    std::set<std::string> laggards;
    {
      std::unique_lock lock(group->mutex);
      auto lagging = [&] {
        laggards.clear();
        if (!group->IsPrimary(options_.node_id)) return false;
        for (const std::string& node : members) {
          auto acked = group->acked.find(node);
          if (group->InSync(node) && (acked == group->acked.end() || acked->second < seq)) {
            laggards.insert(node);
          }
        }
        return !laggards.empty();
      };
      group->changed.wait_until(lock, deadline, [&] { return !lagging(); });
      lagging();
      if (!group->IsPrimary(options_.node_id)) {
        return absl::UnavailableError(absl::StrCat(
            "write not acknowledged: node ", options_.node_id, " stopped being the primary of ",
            ShardName(collection, shard), " (epoch ", group->state.epoch(), "); retry"));
      }
    }
    if (laggards.empty()) return absl::OkStatus();
    std::lock_guard membership(group->membership);
    RETURN_IF_ERROR(DropFromInSync(*group, laggards));
    std::lock_guard lock(group->mutex);
    if (static_cast<uint32_t>(group->state.in_sync_size()) < group->min_in_sync) {
      return absl::UnavailableError(absl::StrCat(
          "write committed on the primary but not acknowledged: ", ShardName(collection, shard),
          " has ", group->state.in_sync_size(), " in-sync copies left, min_in_sync is ",
          group->min_in_sync, "; retry (upserts by id are idempotent)"));
    }
    return absl::OkStatus();
  }
}

absl::StatusOr<bool> ReplicationManager::CompareAndSetState(Group& group,
                                                            const v1::ShardStateRecord& state) {
  int64_t expected;
  {
    std::lock_guard lock(group.mutex);
    expected = group.state_mod_revision;
  }
  ASSIGN_OR_RETURN(const bool written,
                   etcd_->CompareAndPut(group.state_key, state.SerializeAsString(), expected));
  if (written) {
    // The record may have moved on between the transaction and this read (a failover while this
    // node was paused): our state paired with that newer revision would let our next
    // transaction overwrite the new primary's record.
    ASSIGN_OR_RETURN(const std::optional<cluster::EtcdKeyValue> now, etcd_->Get(group.state_key));
    std::lock_guard lock(group.mutex);
    v1::ShardStateRecord fresh;
    if (now.has_value() && now->value == state.SerializeAsString()) {
      group.state = state;
      group.state_mod_revision = now->mod_revision;
    } else if (now.has_value() && fresh.ParseFromString(now->value)) {
      group.state = fresh;
      group.state_mod_revision = now->mod_revision;
    }
  } else {
    // Read what won: a newer epoch means this node was replaced.
    ASSIGN_OR_RETURN(const std::optional<cluster::EtcdKeyValue> now, etcd_->Get(group.state_key));
    v1::ShardStateRecord fresh;
    if (now.has_value() && fresh.ParseFromString(now->value)) {
      std::lock_guard lock(group.mutex);
      group.state = fresh;
      group.state_mod_revision = now->mod_revision;
    }
  }
  group.changed.notify_all();
  return written;
}

absl::Status ReplicationManager::DropFromInSync(Group& group,
                                                const std::set<std::string>& laggards) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    v1::ShardStateRecord next;
    {
      std::lock_guard lock(group.mutex);
      if (!group.IsPrimary(options_.node_id)) break;
      next = group.state;
      next.clear_in_sync();
      for (const std::string& node : group.state.in_sync()) {
        if (!laggards.contains(node)) next.add_in_sync(node);
      }
      if (next.in_sync_size() == group.state.in_sync_size()) return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(const bool written, CompareAndSetState(group, next));
    if (written) {
      spdlog::warn("{}: {} left the in-sync set (no ack within {}), epoch {}",
                   ShardName(group.collection, group.shard), absl::StrJoin(laggards, ","),
                   absl::FormatDuration(options_.ack_timeout), next.epoch());
      return absl::OkStatus();
    }
  }
  std::lock_guard lock(group.mutex);
  return absl::UnavailableError(absl::StrCat(
      "write not acknowledged: node ", options_.node_id, " could not update the in-sync set of ",
      ShardName(group.collection, group.shard), " (the shard's primary is now ",
      group.state.primary(), ", epoch ", group.state.epoch(), "); retry"));
}

absl::Status ReplicationManager::AddToInSync(Group& group, const std::string& node) {
  v1::ShardStateRecord next;
  {
    std::lock_guard lock(group.mutex);
    if (!group.IsPrimary(options_.node_id) || group.InSync(node)) return absl::OkStatus();
    if (std::find(group.replicas.begin(), group.replicas.end(), node) == group.replicas.end()) {
      return absl::OkStatus();  // not a copy of this shard (a move's learner joins by MoveShard)
    }
    next = group.state;
    next.add_in_sync(node);
  }
  ASSIGN_OR_RETURN(const bool written, CompareAndSetState(group, next));
  if (written) {
    spdlog::info("{}: {} caught up and rejoined the in-sync set (epoch {})",
                 ShardName(group.collection, group.shard), node, next.epoch());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::WritePosition> ReplicationManager::Position(const std::string& collection,
                                                               uint32_t shard) {
  ASSIGN_OR_RETURN(std::shared_ptr<HostedShard> hosted, host_->Find(collection, shard));
  ASSIGN_OR_RETURN(const storage::WritePosition position,
                   hosted->engine().store().LastReplicatedPosition());
  v1::WritePosition out;
  out.set_epoch(position.epoch);
  out.set_seq(position.seq);
  return out;
}

}  // namespace adanns::server
