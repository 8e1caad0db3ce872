// A collection's indexes, one per name: background builds, publish with replay of concurrent
// writes, persistence (the blob, and a record of a running build so a crash restarts it), drop
// and cancellation, and the status DescribeCollection shows.
#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/collection.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr absl::string_view kPendingSuffix = ".pending";

std::string PendingBlobName(std::string_view name) {
  return absl::StrCat(absl::string_view(name.data(), name.size()), kPendingSuffix);
}

}  // namespace

Collection::IndexSlot* Collection::FindSlot(std::string_view name) {
  for (const std::unique_ptr<IndexSlot>& slot : slots_) {
    if (slot->name == name) return slot.get();
  }
  return nullptr;
}

Collection::IndexSlot* Collection::SlotFor(std::string_view name, std::string_view kind,
                                           bool table_held) {
  if (IndexSlot* slot = FindSlot(name)) return slot;
  auto slot = std::make_unique<IndexSlot>();
  slot->name = std::string(name);
  slot->kind = std::string(kind);
  std::lock_guard build_lock(build_mutex_);
  std::unique_lock table_lock(table_mutex_, std::defer_lock);
  if (!table_held) table_lock.lock();
  slots_.push_back(std::move(slot));
  return slots_.back().get();
}

absl::StatusOr<IndexStatus> Collection::StartBuild(BuildRequest request) {
  std::vector<BuildRequest> requests;
  requests.push_back(std::move(request));
  ASSIGN_OR_RETURN(std::vector<IndexStatus> started, StartBuilds(std::move(requests)));
  return std::move(started.front());
}

absl::StatusOr<std::vector<IndexStatus>> Collection::StartBuilds(
    std::vector<BuildRequest> requests) {
  std::lock_guard lifecycle_lock(lifecycle_mutex_);
  {
    std::lock_guard write_lock(write_mutex_);
    RETURN_IF_ERROR(CheckNotDropped());
  }
  // Every request is checked before any starts, so a refused one starts none.
  for (size_t i = 0; i < requests.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (requests[j].name == requests[i].name) {
        return absl::InvalidArgumentError(
            absl::StrCat("index ", requests[i].name, " is requested twice"));
      }
    }
    if (IndexSlot* slot = FindSlot(requests[i].name)) {
      std::lock_guard build_lock(build_mutex_);
      if (slot->state == "building") {
        return absl::FailedPreconditionError(absl::StrCat(
            "collection '", meta_.name, "' is already building its ", slot->name, " index (",
            static_cast<int>(slot->progress.load() * 100), "% done); drop it to cancel"));
      }
    }
    // Parameters that can be checked now fail the request rather than the build.
    std::shared_lock table_lock(table_mutex_);
    if (table_.size() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("collection '", meta_.name, "' is empty; upsert vectors before BuildIndex"));
    }
    RETURN_IF_ERROR(requests[i].check(meta_.dim, table_.size()));
  }
  std::vector<IndexStatus> started;
  for (BuildRequest& request : requests) {
    IndexSlot* slot = SlotFor(request.name, request.kind, /*table_held=*/false);
    ASSIGN_OR_RETURN(IndexStatus status, StartCheckedBuild(*slot, std::move(request)));
    started.push_back(std::move(status));
  }
  return started;
}

absl::StatusOr<IndexStatus> Collection::StartCheckedBuild(IndexSlot& slot, BuildRequest request) {
  if (slot.thread.joinable()) slot.thread.join();  // the previous build has finished
  {
    // From here every write is logged for the replay at publish.
    std::unique_lock table_lock(table_mutex_);
    slot.log_writes = true;
    slot.written.clear();
  }
  if (absl::Status recorded =
          store_->PutIndexBlob(meta_.id, PendingBlobName(slot.name), request.encoded_params);
      !recorded.ok()) {
    std::unique_lock table_lock(table_mutex_);
    slot.log_writes = false;
    return recorded;
  }
  slot.cancel = false;
  slot.progress = 0;
  SetBuildState(slot, "building", "");
  slot.thread = std::thread(&Collection::RunBuild, this, &slot, std::move(request));
  std::lock_guard build_lock(build_mutex_);
  std::shared_lock table_lock(table_mutex_);
  return StatusLocked(slot);
}

void Collection::RunBuild(IndexSlot* slot, BuildRequest request) {
  const auto start = std::chrono::steady_clock::now();
  auto access = [this](const std::function<void(const index::VectorTable&)>& read) {
    std::shared_lock table_lock(table_mutex_);
    read(table_);
  };
  absl::StatusOr<std::unique_ptr<index::ServedIndex>> built = request.build(
      access, std::max(1, options_.build_threads), [slot](double f) { slot->progress = f; },
      &slot->cancel);
  absl::Status status = built.status();
  if (status.ok()) status = Publish(*slot, std::move(*built));
  {
    std::unique_lock table_lock(table_mutex_);
    slot->log_writes = false;
    slot->written.clear();
  }
  // Whatever the outcome, the build is over: nothing to restart after a crash from here.
  if (absl::Status cleared = store_->DeleteIndexBlob(meta_.id, PendingBlobName(slot->name));
      !cleared.ok()) {
    spdlog::error("collection {}: {}", meta_.name, cleared.ToString());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (status.ok()) {
    spdlog::info("collection {}: {} index built in {:.2f} s", meta_.name, slot->name, seconds);
    {
      std::lock_guard build_lock(build_mutex_);
      slot->build_seconds = seconds;
    }
    SetBuildState(*slot, "ready", "");
    CalibrateAfterIndexChange();
  } else if (absl::IsCancelled(status)) {
    SetBuildState(*slot, "cancelled", std::string(status.message()));
  } else {
    spdlog::error("collection {}: {} build failed: {}", meta_.name, slot->name, status.ToString());
    SetBuildState(*slot, "failed", std::string(status.message()));
  }
}

absl::Status Collection::Publish(IndexSlot& slot, std::unique_ptr<index::ServedIndex> built) {
  ASSIGN_OR_RETURN(const std::string blob, built->Serialize());
  // Blob first: a crash after it restarts with the new index, a crash before with the old one.
  RETURN_IF_ERROR(store_->PutIndexBlob(meta_.id, slot.name, blob));
  // No writer is between its commit and its apply, and none logs more writes until the swap. The
  // log is replayed into the new index (which no search sees yet) under shared holds, so searches
  // go on meanwhile; the swap takes one short exclusive hold.
  const std::unique_lock write_lock = LockWritersApplied();
  for (size_t begin = 0; begin < slot.written.size(); begin += kTableRowsPerHold) {
    if (slot.cancel) return absl::CancelledError(absl::StrCat(slot.name, " build cancelled"));
    std::shared_lock table_lock(table_mutex_);
    const size_t end = std::min(slot.written.size(), begin + kTableRowsPerHold);
    for (size_t i = begin; i < end; ++i) {
      const LoggedWrite& write = slot.written[i];
      if (table_.RowOf(write.id) == write.row) {
        built->Upsert(table_, write.row);
      } else {
        built->Remove(write.row, write.id);
      }
    }
  }
  std::unique_lock table_lock(table_mutex_);
  if (slot.cancel) return absl::CancelledError(absl::StrCat(slot.name, " build cancelled"));
  slot.served = std::move(built);
  return absl::OkStatus();
}

void Collection::ApplyRemoveLocked(index::RowId row, uint64_t id) {
  for (const std::unique_ptr<IndexSlot>& slot : slots_) {
    if (slot->served) slot->served->Remove(row, id);
    if (slot->log_writes) slot->written.push_back({row, id});
  }
}

void Collection::ResumeInterruptedBuilds() {
  std::vector<IndexSlot*> interrupted;
  for (const std::unique_ptr<IndexSlot>& slot : slots_) {
    if (slot->interrupted.has_value()) interrupted.push_back(slot.get());
  }
  for (IndexSlot* slot : interrupted) {
    const std::string encoded = *std::exchange(slot->interrupted, std::nullopt);
    spdlog::warn("collection {}: restarting the {} build a restart interrupted", meta_.name,
                 slot->name);
    absl::StatusOr<BuildRequest> request = DecodeBuild(slot->kind, encoded, meta_.metric);
    absl::Status status = request.status();
    if (status.ok()) status = StartBuild(*std::move(request)).status();
    if (status.ok()) continue;
    spdlog::error("collection {}: interrupted {} build not restarted: {}", meta_.name, slot->name,
                  status.ToString());
    if (absl::Status cleared = store_->DeleteIndexBlob(meta_.id, PendingBlobName(slot->name));
        !cleared.ok()) {
      spdlog::error("collection {}: {}", meta_.name, cleared.ToString());
    }
    SetBuildState(*slot, "failed",
                  absl::StrCat("a build interrupted by a restart could not be restarted: ",
                               status.message()));
  }
}

absl::Status Collection::LoadIndexes() {
  ASSIGN_OR_RETURN(const std::vector<std::string> names, store_->ListIndexBlobs(meta_.id));
  for (const std::string& blob_name : names) {
    if (blob_name == kCalibrationBlob || blob_name == kDefaultBudgetBlob) continue;  // not indexes
    const bool pending = absl::EndsWith(blob_name, kPendingSuffix);
    const std::string name =
        pending ? blob_name.substr(0, blob_name.size() - kPendingSuffix.size()) : blob_name;
    const std::optional<std::string> kind = KindOfIndexName(name);
    if (!kind.has_value()) {
      spdlog::error("collection {}: ignoring index blob '{}' of no known kind", meta_.name,
                    blob_name);
      continue;
    }
    IndexSlot& slot = *SlotFor(name, *kind, /*table_held=*/true);
    ASSIGN_OR_RETURN(std::optional<std::string> blob, store_->GetIndexBlob(meta_.id, blob_name));
    if (!blob.has_value()) continue;
    if (pending) {
      slot.interrupted = std::move(blob);
      continue;
    }
    absl::StatusOr<std::unique_ptr<index::ServedIndex>> loaded =
        LoadIndex(slot.kind, *blob, table_, meta_.metric);
    std::lock_guard build_lock(build_mutex_);
    if (loaded.ok()) {
      slot.served = std::move(*loaded);
      slot.state = "ready";
      slot.progress = 1.0;
    } else {
      spdlog::error("collection {}: stored {} index not loaded: {}", meta_.name, slot.name,
                    loaded.status().ToString());
      slot.state = "failed";
      slot.error = absl::StrCat("stored index could not be loaded: ", loaded.status().message());
    }
  }
  return absl::OkStatus();
}

void Collection::StopBuild(IndexSlot& slot) {
  slot.cancel = true;
  if (slot.thread.joinable()) slot.thread.join();
}

absl::Status Collection::DropIndex(std::string_view name) {
  std::lock_guard lifecycle_lock(lifecycle_mutex_);
  IndexSlot* slot = FindSlot(name);
  bool exists = false;
  if (slot != nullptr) {
    std::lock_guard build_lock(build_mutex_);
    exists = !slot->state.empty();
  }
  if (!exists) {
    return absl::NotFoundError(
        absl::StrCat("collection '", meta_.name, "' has no index named '", std::string(name), "'"));
  }
  StopBuild(*slot);
  RETURN_IF_ERROR(store_->DeleteIndexBlob(meta_.id, slot->name));
  {
    std::unique_lock table_lock(table_mutex_);
    slot->served.reset();
  }
  {
    std::lock_guard build_lock(build_mutex_);
    slot->state.clear();
    slot->error.clear();
  }
  CalibrateAfterIndexChange();
  return absl::OkStatus();
}

void Collection::SetBuildState(IndexSlot& slot, const std::string& state,
                               const std::string& error) {
  IndexStatus status;
  {
    std::lock_guard build_lock(build_mutex_);
    slot.state = state;
    slot.error = error;
    std::shared_lock table_lock(table_mutex_);
    status = StatusLocked(slot);
  }
  if (options_.on_index_change) options_.on_index_change(meta_.name, status);
}

IndexStatus Collection::StatusLocked(const IndexSlot& slot) const {
  IndexStatus status;
  status.name = slot.name;
  status.kind = slot.kind;
  status.state = slot.state;
  status.error = slot.error;
  status.build_seconds = slot.build_seconds;
  status.progress = slot.state == "ready" ? 1.0 : slot.progress.load();
  if (slot.served) {
    const auto trained = static_cast<int64_t>(slot.served->trained_vectors());
    status.memory_bytes = slot.served->memory_bytes();
    status.vectors_added_since_build = static_cast<int64_t>(table_.size()) - trained;
    status.rebuild_advised =
        status.vectors_added_since_build > kRebuildAdvisedGrowth * static_cast<double>(trained);
    status.params = slot.served->described_params();
  }
  return status;
}

std::vector<const index::ServedIndex*> Collection::ReadyLocked() const {
  std::vector<const index::ServedIndex*> ready;
  for (const std::unique_ptr<IndexSlot>& slot : slots_) {
    if (slot->served) ready.push_back(slot->served.get());
  }
  return ready;
}

std::vector<IndexStatus> Collection::Indexes() const {
  std::vector<IndexStatus> indexes(1);
  indexes[0].name = "flat";
  indexes[0].kind = "flat";
  indexes[0].state = "ready";
  indexes[0].progress = 1.0;
  std::lock_guard build_lock(build_mutex_);
  std::shared_lock table_lock(table_mutex_);
  for (const std::unique_ptr<IndexSlot>& slot : slots_) {
    if (!slot->state.empty()) indexes.push_back(StatusLocked(*slot));
  }
  return indexes;
}

}  // namespace adanns::server
