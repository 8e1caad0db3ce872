// The follower's side of replication (replication.h): a thread per followed shard opens a
// Replicate stream to the current primary at this copy's position, applies each replicated write
// as its own synced batch carrying the write's identity (so the position survives a crash with
// the data), waits until the write is searchable, then acknowledges it.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/collection.h"
#include "server/grpc_status.h"
#include "server/replication.h"
#include "server/replication_group.h"
#include "server/thread_priority.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr auto kFirstRetry = std::chrono::milliseconds(100);
// Below the ack deadline: a follower reconnecting after a failover must be back before the new
// primary's first write gives up on it.
constexpr auto kMaxRetry = std::chrono::milliseconds(500);
// A follower whose apply meets the fresh-row cap (its indexes behind) waits this long per try.
constexpr auto kBackpressureRetry = std::chrono::milliseconds(20);

// Applies one decoded write to the follower's collection.
absl::Status ApplyWrite(Collection& collection, const storage::ReplicatedWrite& write,
                        const storage::WritePosition& identity,
                        const std::function<bool()>& abandoned) {
  const uint32_t dim = collection.meta().dim;
  if (!write.put_ids.empty()) {
    auto values = std::make_shared<std::vector<float>>(write.put_ids.size() * size_t{dim});
    UpsertBatch batch;
    batch.ids = write.put_ids;
    for (size_t i = 0; i < write.put_ids.size(); ++i) {
      if (write.put_values[i].size() != size_t{dim} * sizeof(float)) {
        return absl::DataLossError(absl::StrCat("replicated vector ", write.put_ids[i], " holds ",
                                                write.put_values[i].size(), " bytes, dim is ",
                                                dim));
      }
      float* row = values->data() + i * dim;
      std::memcpy(row, write.put_values[i].data(), write.put_values[i].size());
      batch.rows.push_back(row);
    }
    batch.owner = values;
    for (;;) {
      absl::StatusOr<uint64_t> ticket = collection.CommitUpsert(batch, &identity);
      if (ticket.ok()) {
        collection.WaitApplied(*ticket);
        break;
      }
      if (!absl::IsResourceExhausted(ticket.status())) return ticket.status();
      if (abandoned()) return absl::AbortedError("the epoch changed while applying");
      std::this_thread::sleep_for(kBackpressureRetry);  // indexes behind: the primary waits too
    }
  }
  if (!write.delete_ids.empty() || write.put_ids.empty()) {
    RETURN_IF_ERROR(collection.Delete(write.delete_ids, &identity).status());
  }
  return absl::OkStatus();
}

}  // namespace

void ReplicationManager::FollowLoop(std::shared_ptr<Group> group) {
  NameThisThread("adanns-follow");
  auto retry = kFirstRetry;
  std::string last_error;
  uint64_t previous_epoch = 0;
  for (;;) {
    uint64_t epoch;
    {
      std::lock_guard lock(group->mutex);
      if (group->stop_following || stop_.load() || group->IsPrimary(options_.node_id)) break;
      epoch = group->state.epoch();
    }
    if (epoch != previous_epoch) retry = kFirstRetry;  // a new primary: try it promptly
    previous_epoch = epoch;
    bool needs_copy = false;
    absl::Status status = FollowOnce(*group, &needs_copy);
    if (needs_copy) status = CopyFromPrimary(*group);
    if (status.ok()) {
      retry = kFirstRetry;
      continue;
    }
    if (std::string(status.message()) != last_error) {  // once per distinct error, not per retry
      last_error = std::string(status.message());
      spdlog::warn("following shard {} of '{}': {}", group->shard, group->collection, last_error);
    }
    std::unique_lock lock(group->mutex);
    // A new epoch (a failover) ends the wait at once: the new primary's first write drops a
    // follower that has not reconnected within the ack deadline.
    group->changed.wait_for(lock, retry, [&] {
      return group->stop_following || stop_.load() || group->state.epoch() != epoch;
    });
    retry = std::min<std::chrono::milliseconds>(retry * 2, kMaxRetry);
  }
  // Reconcile joins the thread and starts another if this node is demoted again.
  std::lock_guard lock(group->mutex);
  group->follower_done = true;
}

absl::Status ReplicationManager::FollowOnce(Group& group, bool* needs_copy) {
  v1::ShardStateRecord state;
  std::shared_ptr<HostedShard> hosted;
  {
    std::lock_guard lock(group.mutex);
    state = group.state;
    hosted = group.hosted;
  }
  if (state.primary() == options_.node_id) return absl::OkStatus();
  const std::string address = AddressOf(state.primary());
  if (address.empty()) {
    return absl::UnavailableError(absl::StrCat("primary ", state.primary(), " is not live"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, hosted->engine().Find(group.collection));
  storage::RocksStore& store = hosted->engine().store();
  ASSIGN_OR_RETURN(storage::WritePosition position, store.LastReplicatedPosition());
  if (position == storage::WritePosition{} &&
      std::find(state.in_sync().begin(), state.in_sync().end(), options_.node_id) ==
          state.in_sync().end()) {
    // A new copy (a move's learner, or one that never applied a write): the primary's WAL from
    // its first record may lack writes committed before the shard was replicated (untagged).
    *needs_copy = true;
    return absl::OkStatus();
  }

  grpc::ClientContext context;
  {
    std::lock_guard lock(group.mutex);
    if (group.stop_following || group.state.epoch() != state.epoch()) return absl::OkStatus();
    group.follow_context = &context;
  }
  auto clear_context = [&] {
    std::lock_guard lock(group.mutex);
    group.follow_context = nullptr;
  };
  auto stream = stubs_.For(address)->Replicate(&context);
  v1::ReplicateRequest start;
  start.mutable_start()->set_collection(group.collection);
  start.mutable_start()->set_shard(group.shard);
  start.mutable_start()->set_epoch(state.epoch());
  start.mutable_start()->set_node_id(options_.node_id);
  start.mutable_start()->mutable_position()->set_epoch(position.epoch);
  start.mutable_start()->mutable_position()->set_seq(position.seq);
  const std::function<bool()> abandoned = [&] {
    std::lock_guard lock(group.mutex);
    return group.stop_following || group.state.epoch() != state.epoch();
  };
  absl::Status applied = absl::OkStatus();
  // Cancelled here (a new epoch, a failed apply) or ended by the primary, whose status (e.g. a
  // full copy needed) a cancel would hide.
  bool stopped_here = false;
  if (stream->Write(start)) {
    std::vector<std::string> column_families;
    v1::ReplicateBatch batch;
    while (!stopped_here && stream->Read(&batch)) {
      if (batch.column_families_size() > 0) {
        column_families.assign(batch.column_families().begin(), batch.column_families().end());
      }
      // Cancelling is asynchronous: a batch already received is not applied (nor acked) once
      // this node knows of a newer epoch or became the primary itself.
      if ((stopped_here = abandoned())) break;
      if (!batch.write_batch().empty()) {
        const storage::WritePosition identity{batch.position().epoch(), batch.position().seq()};
        if (!(identity == position)) {
          absl::StatusOr<storage::ReplicatedWrite> write =
              storage::DecodeReplicatedWrite(batch.write_batch(), column_families);
          applied =
              write.ok() ? ApplyWrite(*collection, *write, identity, abandoned) : write.status();
          if (!applied.ok()) {
            stopped_here = true;
            break;
          }
          position = identity;
        }
      }
      v1::ReplicateRequest ack;
      ack.set_applied_through_seq(batch.through_seq());
      stopped_here = !stream->Write(ack);
    }
  }
  if (stopped_here) context.TryCancel();
  stream->WritesDone();
  const grpc::Status finished = stream->Finish();
  clear_context();
  if (!applied.ok()) return applied;
  *needs_copy = finished.error_details() == kFullCopyNeededDetail;
  if (!finished.ok() && finished.error_code() != grpc::StatusCode::CANCELLED) {
    return absl::Status(static_cast<absl::StatusCode>(finished.error_code()),
                        absl::StrCat("primary ", state.primary(), ": ", finished.error_message()));
  }
  return absl::UnavailableError(absl::StrCat("stream to primary ", state.primary(), " ended"));
}

}  // namespace adanns::server
