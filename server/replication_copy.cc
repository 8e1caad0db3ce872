// Full copies (replication.h): for a follower whose position is not in the primary's WAL (it was
// away past the retention, or it holds writes the primary never had: a former primary's
// unacknowledged tail), the primary checkpoints the shard with its writes paused for that moment
// and streams the files; the follower swaps its store for the copy, records the copy's position
// and resumes streaming from there.
#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/collection.h"
#include "server/grpc_status.h"
#include "server/replication.h"
#include "server/replication_group.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr size_t kChunkBytes = 1 << 20;

// A directory beside the shard's that names its purpose and is unique for this process.
std::string SiblingDir(const std::string& shard_path, const std::string& what) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(shard_path, ".", what, "-", counter.fetch_add(1));
}

// Removes a directory when it goes out of scope.
struct RemovedAtExit {
  std::string path;
  ~RemovedAtExit() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

grpc::Status ReplicationManager::ServeCopy(grpc::ServerContext* context,
                                           const v1::ShardCopyRequest* request,
                                           grpc::ServerWriter<v1::ShardCopyChunk>* writer) {
  std::shared_ptr<Group> group = FindGroup(request->collection(), request->shard());
  std::shared_ptr<HostedShard> hosted;
  if (group != nullptr) {
    std::lock_guard lock(group->mutex);
    if (group->IsPrimary(options_.node_id) && group->state.epoch() == request->epoch()) {
      hosted = group->hosted;
    }
  }
  if (hosted == nullptr) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("node ", options_.node_id, " is not the primary of shard ", request->shard(),
                     " of '", request->collection(), "' at epoch ", request->epoch()));
  }
  absl::StatusOr<std::shared_ptr<Collection>> collection =
      hosted->engine().Find(request->collection());
  if (!collection.ok()) return ToGrpc(collection.status());
  storage::RocksStore& store = hosted->engine().store();
  store.SetReplicationEpoch(request->epoch());  // checked above: this node's epoch as primary
  // The copy resumes after a write of this WAL: with none since the shard became replicated
  // (a move of an unreplicated shard) or none kept, it could not.
  if (absl::Status marked = store.CommitReplicationMarker(); !marked.ok()) return ToGrpc(marked);
  const RemovedAtExit checkpoint{SiblingDir(hosted->path(), "copy")};
  storage::WritePosition position;
  const auto started = std::chrono::steady_clock::now();
  absl::Status taken = (*collection)->WithWritesPaused([&]() -> absl::Status {
    RETURN_IF_ERROR(store.Checkpoint(checkpoint.path));
    ASSIGN_OR_RETURN(position, store.LastReplicatedPosition());
    return absl::OkStatus();
  });
  if (!taken.ok()) return ToGrpc(taken);
  spdlog::info("shard {} of '{}': full copy for {} at (epoch {}, seq {}) checkpointed in {:.2f} s",
               request->shard(), request->collection(), request->node_id(), position.epoch,
               position.seq,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  std::vector<char> buffer(kChunkBytes);
  for (const auto& entry : std::filesystem::directory_iterator(checkpoint.path)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    uint64_t offset = 0;
    do {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      v1::ShardCopyChunk chunk;
      chunk.set_file(entry.path().filename().string());
      chunk.set_offset(offset);
      chunk.set_data(buffer.data(), static_cast<size_t>(in.gcount()));
      offset += static_cast<uint64_t>(in.gcount());
      if (context->IsCancelled() || !writer->Write(chunk)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "copy cancelled");
      }
    } while (in);
    if (in.bad()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("reading ", entry.path().string(), " failed"));
    }
  }
  v1::ShardCopyChunk done;
  done.set_done(true);
  done.mutable_position()->set_epoch(position.epoch);
  done.mutable_position()->set_seq(position.seq);
  writer->Write(done);
  if (metrics_ != nullptr) metrics_->RecordCatchUp(request->collection(), "full_copy");
  return grpc::Status::OK;
}

absl::Status ReplicationManager::CopyFromPrimary(Group& group) {
  v1::ShardStateRecord state;
  std::shared_ptr<HostedShard> hosted;
  {
    std::lock_guard lock(group.mutex);
    state = group.state;
    hosted = group.hosted;
  }
  if (hosted == nullptr) return absl::UnavailableError("shard not open yet");
  const std::string address = AddressOf(state.primary());
  if (address.empty()) {
    return absl::UnavailableError(absl::StrCat("primary ", state.primary(), " is not live"));
  }
  const std::string incoming = SiblingDir(hosted->path(), "incoming");
  std::error_code error;
  std::filesystem::create_directories(incoming, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", incoming));
  bool keep_incoming = false;
  struct Cleanup {
    const std::string& path;
    const bool& keep;
    ~Cleanup() {
      std::error_code ignored;
      if (!keep) std::filesystem::remove_all(path, ignored);
    }
  } cleanup{incoming, keep_incoming};

  grpc::ClientContext context;
  {
    std::lock_guard lock(group.mutex);
    if (group.stop_following) return absl::OkStatus();
    group.follow_context = &context;
  }
  v1::ShardCopyRequest request;
  request.set_collection(group.collection);
  request.set_shard(group.shard);
  request.set_epoch(state.epoch());
  request.set_node_id(options_.node_id);
  auto reader = stubs_.For(address)->CopyShard(&context, request);
  v1::ShardCopyChunk chunk;
  std::optional<storage::WritePosition> position;
  uint64_t bytes = 0;
  absl::Status written = absl::OkStatus();
  while (reader->Read(&chunk)) {
    if (chunk.done()) {
      position = storage::WritePosition{chunk.position().epoch(), chunk.position().seq()};
      continue;
    }
    const std::filesystem::path name(chunk.file());
    if (name.empty() || name.has_parent_path() || name.filename() != name || chunk.file() == "." ||
        chunk.file() == "..") {
      written = absl::DataLossError(absl::StrCat("copy names a bad file '", chunk.file(), "'"));
      break;
    }
    std::ofstream out(std::filesystem::path(incoming) / name,
                      chunk.offset() == 0 ? std::ios::binary | std::ios::trunc
                                          : std::ios::binary | std::ios::app);
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    out.flush();
    if (!out) {
      written = absl::InternalError(absl::StrCat("writing ", incoming, "/", chunk.file()));
      break;
    }
    bytes += chunk.data().size();
  }
  if (!written.ok()) context.TryCancel();
  const grpc::Status finished = reader->Finish();
  {
    std::lock_guard lock(group.mutex);
    group.follow_context = nullptr;
  }
  RETURN_IF_ERROR(written);
  if (!finished.ok() || !position.has_value()) {
    return absl::UnavailableError(
        absl::StrCat("full copy from ", state.primary(), " failed: ", finished.error_message()));
  }
  // The copy's files reach the disk before the swap makes them the shard.
  for (const auto& entry : std::filesystem::directory_iterator(incoming)) {
    std::FILE* file = std::fopen(entry.path().c_str(), "rb");
    if (file != nullptr) {
      ::fsync(fileno(file));
      std::fclose(file);
    }
  }
  // No reconcile hands the old shard out again while it is swapped.
  std::lock_guard reconciling(reconcile_mutex_);
  {
    std::lock_guard lock(group.mutex);
    group.hosted = nullptr;  // the host waits for every user to let go
  }
  hosted.reset();
  absl::StatusOr<std::shared_ptr<HostedShard>> replaced =
      host_->ReplaceWithCopy(group.collection, group.shard, incoming);
  if (!replaced.ok()) {
    absl::StatusOr<std::shared_ptr<HostedShard>> current =
        host_->Find(group.collection, group.shard);
    std::lock_guard lock(group.mutex);
    if (current.ok()) group.hosted = *current;
    return replaced.status();
  }
  keep_incoming = true;  // renamed into place
  // The copy's position, as a tagged record of its own: its WAL then says where it resumes.
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection,
                   (*replaced)->engine().Find(group.collection));
  RETURN_IF_ERROR(collection->Delete({}, &*position).status());
  {
    std::lock_guard lock(group.mutex);
    group.hosted = *replaced;
  }
  spdlog::warn("shard {} of '{}': replaced by a full copy from {} ({} bytes) at (epoch {}, seq {})",
               group.shard, group.collection, state.primary(), bytes, position->epoch,
               position->seq);
  return absl::OkStatus();
}

}  // namespace adanns::server
