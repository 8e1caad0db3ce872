// Router: MoveShard (adanns.proto) — one copy of a shard moves to another data node as a learner
// that catches up and joins the in-sync set before the old copy leaves (replication.h). Every
// step is an etcd transaction on the shard map and the shard's state record together (compared
// on both mod revisions), so it races safely with the primary's own in-sync changes and with a
// failover, and a move interrupted anywhere resumes when called again.
#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "server/router.h"
#include "server/shard_channel.h"
#include "server/validation.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// How often the router looks whether the new copy joined the in-sync set.
constexpr auto kCatchUpPoll = std::chrono::milliseconds(200);
// Answering this long before the client's deadline lets the client read why it stopped.
constexpr auto kAnswerMargin = std::chrono::milliseconds(500);
// Transactions lost to a concurrent change (the primary dropping a laggard) are retried.
constexpr int kTransactionAttempts = 8;
// Deadline of the calls to data nodes the move makes itself.
constexpr auto kNodeCallDeadline = std::chrono::seconds(30);
// Of asking in-sync copies for their positions when the primary moves.
constexpr auto kPositionDeadline = std::chrono::milliseconds(1000);

bool Contains(const std::vector<std::string>& nodes, const std::string& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& nodes,
              const std::string& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

// The copies of a shard as a map record holds them: one copy alone as node_id (an unreplicated
// record, as MakeShardMap writes it), several in replicas.
void SetCopies(const std::vector<std::string>& copies, v1::ShardAssignment* assignment) {
  assignment->set_node_id(copies.front());
  assignment->clear_replicas();
  if (copies.size() > 1) {
    for (const std::string& node : copies) assignment->add_replicas(node);
  }
}

}  // namespace

struct Router::ShardRecords {
  std::string map_key;
  std::string state_key;
  v1::ShardMapRecord map;
  int64_t map_mod_revision = 0;
  int64_t created_revision = 0;
  v1::ShardStateRecord state;      // as in effect (the initial one when none is written)
  int64_t state_mod_revision = 0;  // of the key as stored (0: absent)
  std::vector<std::string> copies;
};

absl::StatusOr<Router::ShardRecords> Router::ReadShardRecords(const std::string& collection,
                                                              uint32_t shard) const {
  ShardRecords records;
  records.map_key = keys_.Collection(collection);
  ASSIGN_OR_RETURN(const std::optional<cluster::EtcdKeyValue> map, etcd_->Get(records.map_key));
  if (!map.has_value()) {
    return absl::NotFoundError(absl::StrCat("collection '", collection, "' does not exist"));
  }
  ASSIGN_OR_RETURN(records.map, cluster::ParseShardMap(records.map_key, map->value));
  records.map_mod_revision = map->mod_revision;
  records.created_revision = map->create_revision;
  if (shard >= static_cast<uint32_t>(records.map.shards_size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("collection '", collection, "' has ", records.map.shards_size(),
                     " shards (0..", records.map.shards_size() - 1, "), got shard ", shard));
  }
  const v1::ShardAssignment& assignment = records.map.shards(static_cast<int>(shard));
  records.copies = cluster::ReplicaNodes(assignment);
  records.state_key = keys_.ShardState(collection, shard);
  ASSIGN_OR_RETURN(const std::optional<cluster::EtcdKeyValue> state, etcd_->Get(records.state_key));
  std::optional<std::string> bytes;
  if (state.has_value()) {
    bytes = state->value;
    records.state_mod_revision = state->mod_revision;
  }
  ASSIGN_OR_RETURN(records.state, cluster::EffectiveShardState(records.state_key, assignment,
                                                               records.created_revision, bytes));
  return records;
}

absl::StatusOr<bool> Router::WriteShardRecords(const ShardRecords& read,
                                               const v1::ShardMapRecord& map,
                                               const v1::ShardStateRecord& state) {
  return etcd_->CompareAndPutAll(
      {{read.map_key, map.SerializeAsString(), read.map_mod_revision},
       {read.state_key, state.SerializeAsString(), read.state_mod_revision}});
}

absl::Status Router::MoveShard(const v1::MoveShardRequest& request, v1::MoveShardResponse* response,
                               Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  const std::string& collection = request.collection();
  const uint32_t shard = request.shard();
  const std::string& from = request.from_node();
  const std::string& to = request.to_node();
  if (from.empty() || to.empty()) {
    return absl::InvalidArgumentError("from_node and to_node must name data nodes");
  }
  if (from == to) {
    return absl::InvalidArgumentError(absl::StrCat("from_node and to_node are both ", from));
  }
  const std::string what = absl::StrCat("shard ", shard, " of '", collection, "'");

  // 1. The new copy joins the map as a learner: a copy outside the in-sync set (which the state
  //    record, written explicitly in the same transaction, keeps as it was).
  bool already_done = false;
  for (int attempt = 0;; ++attempt) {
    if (attempt == kTransactionAttempts) {
      return absl::AbortedError(absl::StrCat(what, " kept changing while adding ", to, "; retry"));
    }
    ASSIGN_OR_RETURN(ShardRecords read, ReadShardRecords(collection, shard));
    const bool has_from = Contains(read.copies, from);
    const bool has_to = Contains(read.copies, to);
    if (!has_from && has_to) {
      already_done = true;
      break;
    }
    if (!has_from) {
      return absl::FailedPreconditionError(
          absl::StrCat("node ", from, " holds no copy of ", what,
                       " (its copies: ", absl::StrJoin(read.copies, ","), ")"));
    }
    if (has_to) break;  // added by an earlier call: resume
    const std::map<std::string, std::string> live = LiveNodes();
    if (!live.contains(to)) {
      std::vector<std::string> ids;
      for (const auto& [id, address] : live) ids.push_back(id);
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", to, " is not a live data node (live: ", absl::StrJoin(ids, ","), ")"));
    }
    v1::ShardMapRecord map = read.map;
    std::vector<std::string> copies = read.copies;
    copies.push_back(to);
    SetCopies(copies, map.mutable_shards(static_cast<int>(shard)));
    v1::ShardStateRecord state = read.state;
    state.set_collection_revision(read.created_revision);
    ASSIGN_OR_RETURN(const bool written, WriteShardRecords(read, map, state));
    if (written) {
      spdlog::info("move of {}: {} joins as a learner (copies {})", what, to,
                   absl::StrJoin(copies, ","));
      break;
    }
  }

  const auto started = std::chrono::steady_clock::now();
  if (!already_done) {
    // 2. The learner's shard is created on its node (idempotent); its replication then takes a
    //    full copy from the primary and tails the WAL until the primary adds it to the in-sync
    //    set.
    const std::map<std::string, std::string> live = LiveNodes();
    auto address = live.find(to);
    if (address == live.end()) {
      return absl::UnavailableError(
          absl::StrCat("node ", to, " is not live; the move of ", what,
                       " is recorded: call MoveShard again to resume it, or move it from ", to,
                       " back to ", from, " to cancel it"));
    }
    ASSIGN_OR_RETURN(const ShardRecords read, ReadShardRecords(collection, shard));
    v1::CreateShardRequest create;
    create.set_shard(shard);
    *create.mutable_spec() = read.map.spec();
    grpc::ClientContext context;
    context.set_deadline(std::min(deadline, std::chrono::system_clock::now() + kNodeCallDeadline));
    v1::CollectionInfo created;
    if (const grpc::Status status =
            stubs_.For(address->second)->CreateShard(&context, create, &created);
        !status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("creating the new copy of ", what, " on node ", to, ": ",
                                       status.error_message(),
                                       " (the move is recorded: call MoveShard again "
                                       "to resume it, or move it from ",
                                       to, " back to ", from, " to cancel it)"));
    }

    // 3. Wait until the primary counts it in sync.
    const auto give_up = deadline - kAnswerMargin;
    for (;;) {
      ASSIGN_OR_RETURN(const ShardRecords now, ReadShardRecords(collection, shard));
      if (Contains(now.state.in_sync(), to) || !Contains(now.copies, from)) break;
      if (std::chrono::system_clock::now() + kCatchUpPoll >= give_up) {
        return absl::DeadlineExceededError(absl::StrCat(
            "the new copy of ", what, " on node ", to, " is still catching up after ",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            " s (in sync: ", absl::StrJoin(now.state.in_sync(), ","),
            "); the move goes on: call MoveShard again to wait for it, or move the shard from ", to,
            " back to ", from, " to cancel it"));
      }
      std::this_thread::sleep_for(kCatchUpPoll);
    }
  }

  // 4. The old copy leaves the map and the in-sync set in one transaction; when it was the
  //    primary, the in-sync copy furthest ahead takes over with epoch + 1 (the old primary's
  //    writes in flight then fail UNAVAILABLE: they can no longer be acknowledged).
  ShardRecords done;
  for (int attempt = 0;; ++attempt) {
    if (attempt == kTransactionAttempts) {
      return absl::AbortedError(
          absl::StrCat(what, " kept changing while removing ", from, "; call MoveShard again"));
    }
    ASSIGN_OR_RETURN(ShardRecords read, ReadShardRecords(collection, shard));
    if (!Contains(read.copies, from)) {
      done = std::move(read);
      break;
    }
    if (!Contains(read.state.in_sync(), to)) {
      return absl::UnavailableError(absl::StrCat("the new copy of ", what, " on node ", to,
                                                 " left the in-sync set again; call MoveShard "
                                                 "again to wait for it"));
    }
    v1::ShardStateRecord state = read.state;
    state.set_collection_revision(read.created_revision);
    state.clear_in_sync();
    std::vector<std::string> remaining_in_sync;
    for (const std::string& node : read.state.in_sync()) {
      if (node != from) {
        state.add_in_sync(node);
        remaining_in_sync.push_back(node);
      }
    }
    if (read.state.primary() == from) {
      const std::optional<CopyPosition> best = FurthestAhead(stubs_, LiveNodes(), collection, shard,
                                                             remaining_in_sync, kPositionDeadline);
      if (!best.has_value()) {
        return absl::UnavailableError(
            absl::StrCat("no in-sync copy of ", what, " other than the primary answered; retry"));
      }
      state.set_primary(best->node);
      state.set_epoch(read.state.epoch() + 1);
    }
    std::vector<std::string> copies;
    for (const std::string& node : read.copies) {
      if (node != from) copies.push_back(node);
    }
    v1::ShardMapRecord map = read.map;
    SetCopies(copies, map.mutable_shards(static_cast<int>(shard)));
    ASSIGN_OR_RETURN(const bool written, WriteShardRecords(read, map, state));
    if (written) {
      spdlog::info("move of {}: {} left (copies {}, primary {}, epoch {})", what, from,
                   absl::StrJoin(copies, ","), state.primary(), state.epoch());
      read.map = std::move(map);
      read.state = std::move(state);
      read.copies = std::move(copies);
      done = std::move(read);
      break;
    }
  }

  // 5. The old copy is dropped from its node (its replication let go of it with the new map).
  bool dropped = false;
  const std::map<std::string, std::string> live = LiveNodes();
  if (auto address = live.find(from); address != live.end()) {
    grpc::ClientContext context;
    context.set_deadline(std::min(deadline, std::chrono::system_clock::now() + kNodeCallDeadline));
    v1::ShardRequest drop;
    drop.set_collection(collection);
    drop.set_shard(shard);
    v1::DropCollectionResponse ignored;
    const grpc::Status status = stubs_.For(address->second)->DropShard(&context, drop, &ignored);
    dropped = status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND;
    if (!dropped) {
      spdlog::warn("move of {}: node {} did not drop its old copy ({}); its directory stays", what,
                   from, status.error_message());
    }
  }
  for (const std::string& node : done.copies) response->add_replicas(node);
  *response->mutable_in_sync() = done.state.in_sync();
  response->set_primary(done.state.primary());
  response->set_epoch(done.state.epoch());
  response->set_already_done(already_done);
  response->set_old_copy_dropped(dropped);
  if (!already_done) {
    response->set_catch_up_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return absl::OkStatus();
}

}  // namespace adanns::server
