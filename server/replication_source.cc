// The primary's side of replication: one follower's Replicate stream (replication.h). The
// follower names its position; the primary streams its WAL from the record after it (replicated
// writes whole, other records only counted in through_seq), reads the follower's acks on another
// thread, and adds the follower back to the in-sync set once it acked the live end of the WAL.
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/replication.h"
#include "server/replication_group.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// One read of the WAL: a bounded slice, so a far-behind follower is fed in steps.
constexpr size_t kRecordsPerRead = 256;
constexpr size_t kBytesPerRead = 8 << 20;
// How long the sender sleeps when the WAL has nothing new (a write wakes it sooner).
constexpr auto kIdleWait = std::chrono::milliseconds(100);
// How often the sender refreshes its follower's lag gauges between acks: a follower that stopped
// acknowledging ages in seconds although no ack arrives.
constexpr auto kLagRefresh = std::chrono::seconds(1);

// Sets the lag gauges of `follower` from its acknowledged sequence and `latest`, the WAL's end.
void ReportLag(Metrics* metrics, ReplicationManager::Group& group, const std::string& follower,
               uint64_t latest) {
  if (metrics == nullptr) return;
  uint64_t acked = 0;
  double seconds = 0;
  {
    std::lock_guard lock(group.mutex);
    const auto found = group.acked.find(follower);
    if (found == group.acked.end()) return;  // no ack yet on any open stream
    acked = found->second;
    seconds = group.OldestUnacked(acked, std::chrono::steady_clock::now()).count();
  }
  metrics->SetReplicationLag(group.collection, group.shard, follower,
                             static_cast<double>(latest - std::min(latest, acked)), seconds);
}

}  // namespace

grpc::Status ReplicationManager::ServeFollower(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ReplicateBatch, v1::ReplicateRequest>* stream) {
  v1::ReplicateRequest first;
  if (!stream->Read(&first) || !first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a Replicate stream starts with `start`");
  }
  const v1::ReplicateStart& start = first.start();
  std::shared_ptr<Group> group = FindGroup(start.collection(), start.shard());
  if (group == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("node ", options_.node_id, " holds no replicated shard ",
                                     start.shard(), " of '", start.collection(), "'"));
  }
  std::shared_ptr<HostedShard> hosted;
  {
    std::lock_guard lock(group->mutex);
    if (!group->IsPrimary(options_.node_id) || group->state.epoch() != start.epoch()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("node ", options_.node_id, " is not the primary at epoch ",
                                       start.epoch(), " (it sees epoch ", group->state.epoch(),
                                       ", primary ", group->state.primary(), ")"));
    }
    hosted = group->hosted;
  }
  if (hosted == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shard not open yet");
  storage::RocksStore& store = hosted->engine().store();
  const storage::WritePosition position{start.position().epoch(), start.position().seq()};
  absl::StatusOr<uint64_t> from = store.ResumeSequenceAfter(position);
  if (!from.ok()) {
    spdlog::warn("shard {} of '{}': follower {} needs a full copy: {}", start.shard(),
                 start.collection(), start.node_id(), std::string(from.status().message()));
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, std::string(from.status().message()),
                        kFullCopyNeededDetail);
  }
  spdlog::info("shard {} of '{}': follower {} resumes from WAL sequence {} (epoch {})",
               start.shard(), start.collection(), start.node_id(), *from, start.epoch());
  if (metrics_ != nullptr) metrics_->RecordCatchUp(start.collection(), "wal");

  {
    std::lock_guard lock(group->mutex);
    ++group->streams[start.node_id()];
  }
  // Acks arrive on their own thread; the sender below never blocks on them.
  std::atomic<bool> reader_done{false};
  std::thread reader([&] {
    v1::ReplicateRequest ack;
    while (stream->Read(&ack)) {
      bool rejoin = false;
      {
        std::lock_guard lock(group->mutex);
        uint64_t& acked = group->acked[start.node_id()];
        acked = std::max(acked, ack.applied_through_seq());
        rejoin = !group->InSync(start.node_id());
      }
      group->changed.notify_all();
      ReportLag(metrics_, *group, start.node_id(), store.LatestSequence());
      if (rejoin) {
        // Caught up with every write committed so far: no write that read the in-sync set
        // without it can be missing here (AwaitReplicated reads the set under this lock).
        std::lock_guard membership(group->membership);
        if (ack.applied_through_seq() >= store.LatestSequence()) {
          if (absl::Status added = AddToInSync(*group, start.node_id()); !added.ok()) {
            spdlog::warn("cannot add {} to the in-sync set: {}", start.node_id(),
                         std::string(added.message()));
          }
        }
      }
    }
    reader_done.store(true);
    group->changed.notify_all();
  });

  grpc::Status result = grpc::Status::OK;
  uint64_t next = *from;
  // The first message names the column families (to decode records) and where streaming starts.
  v1::ReplicateBatch header;
  for (const std::string& name : store.ColumnFamilyNamesById()) header.add_column_families(name);
  header.set_through_seq(next - 1);
  bool sent = stream->Write(header);
  auto lag_reported = std::chrono::steady_clock::now();
  while (sent && !context->IsCancelled() && !reader_done.load() && !stop_.load()) {
    if (std::chrono::steady_clock::now() - lag_reported >= kLagRefresh) {
      ReportLag(metrics_, *group, start.node_id(), store.LatestSequence());
      lag_reported = std::chrono::steady_clock::now();
    }
    {
      std::lock_guard lock(group->mutex);
      if (!group->IsPrimary(options_.node_id) || group->state.epoch() != start.epoch()) {
        result = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              absl::StrCat("node ", options_.node_id, " is no longer the primary"));
        break;
      }
    }
    absl::StatusOr<std::vector<storage::WalRecord>> records =
        store.ReadWal(next, kRecordsPerRead, kBytesPerRead);
    if (!records.ok()) {
      result = ToGrpc(records.status());
      break;
    }
    uint64_t skipped_through = 0;
    for (const storage::WalRecord& record : *records) {
      next = record.last_seq + 1;
      if (!record.tag.has_value()) {
        skipped_through = record.last_seq;
        continue;
      }
      v1::ReplicateBatch batch;
      batch.set_through_seq(record.last_seq);
      batch.set_write_batch(record.data);
      const storage::WritePosition identity = record.Identity();
      batch.mutable_position()->set_epoch(identity.epoch);
      batch.mutable_position()->set_seq(identity.seq);
      skipped_through = 0;
      if (!(sent = stream->Write(batch))) break;
    }
    if (!sent) break;
    if (skipped_through != 0) {
      v1::ReplicateBatch progress;  // moves the follower past records it does not need
      progress.set_through_seq(skipped_through);
      if (!stream->Write(progress)) break;
    }
    if (records->empty()) {
      std::unique_lock lock(group->mutex);
      group->changed.wait_for(lock, kIdleWait, [&] {
        return group->last_write_seq >= next || reader_done.load() || stop_.load();
      });
    }
  }
  context->TryCancel();  // ends the reader's Read
  reader.join();
  {
    std::lock_guard lock(group->mutex);
    if (--group->streams[start.node_id()] == 0) group->acked.erase(start.node_id());
  }
  return result;
}

}  // namespace adanns::server
