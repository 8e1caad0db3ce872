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
#include "server/thread_priority.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr absl::string_view kPendingSuffix = ".pending";
// The calibration sample a build sets aside: 0.5% of the rows, at least 200 and at most 2000, at
// most a fifth of the collection; none below 250 rows (too few to set any aside and still build
// on a fair sample). 200 queries put a recall's standard error under 0.02 at 0.9; 2000 bound the
// exact truth (2000 full scans) on large collections.
constexpr size_t kMinRowsToHoldOut = 250;
constexpr size_t kMinHeldOut = 200;
constexpr size_t kMaxHeldOut = 2000;
constexpr uint64_t kHeldOutSeed = 0x1d0u;
// Held-out rows inserted into the built index per shared hold.
constexpr size_t kHeldOutRowsPerHold = 16;
// Shares of a build's progress: the build, then its calibration and the held-out rows' insert.
constexpr double kBuildShare = 0.8;

size_t HeldOutCount(size_t vectors) {
  if (vectors < kMinRowsToHoldOut) return 0;
  return std::min(std::clamp<size_t>(vectors / 200, kMinHeldOut, kMaxHeldOut), vectors / 5);
}

index::Progress Slice(const index::Progress& progress, double begin, double end) {
  return [progress, begin, end](double f) { progress(begin + f * (end - begin)); };
}

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
    RETURN_IF_ERROR(requests[i].check(meta_.dim, table_.resident_dims(), table_.size()));
  }
  // One calibration sample for the batch: no index of it holds those rows until it is measured.
  index::HeldOutRows held_out;
  if (options_.auto_calibrate) {
    std::shared_lock table_lock(table_mutex_);
    held_out = index::SampleLiveRows(table_, HeldOutCount(table_.size()), kHeldOutSeed);
  }
  std::vector<IndexStatus> started;
  for (BuildRequest& request : requests) {
    IndexSlot* slot = SlotFor(request.name, request.kind, /*table_held=*/false);
    ASSIGN_OR_RETURN(IndexStatus status, StartCheckedBuild(*slot, std::move(request), held_out));
    started.push_back(std::move(status));
  }
  return started;
}

absl::StatusOr<IndexStatus> Collection::StartCheckedBuild(IndexSlot& slot, BuildRequest request,
                                                          index::HeldOutRows held_out) {
  if (slot.thread.joinable()) slot.thread.join();  // the previous build has finished
  {
    // From here every write is logged for the replay at publish.
    std::unique_lock table_lock(table_mutex_);
    slot.log_writes = true;
    slot.written.clear();
    slot.replayed = 0;
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
  slot.thread =
      std::thread(&Collection::RunBuild, this, &slot, std::move(request), std::move(held_out));
  std::lock_guard build_lock(build_mutex_);
  std::shared_lock table_lock(table_mutex_);
  return StatusLocked(slot);
}

void Collection::RunBuild(IndexSlot* slot, BuildRequest request, index::HeldOutRows held_out) {
  NameThisThread("adanns-build");
  const auto start = std::chrono::steady_clock::now();
  auto access = [this](const std::function<void(const index::VectorTable&)>& read) {
    auto table_lock = BackgroundTableHold();
    read(table_);
  };
  const index::Progress progress = [slot](double f) { slot->progress = f; };
  const bool calibrate = !held_out.empty();
  absl::StatusOr<std::unique_ptr<index::ServedIndex>> built = request.build(
      access, std::max(1, options_.build_threads),
      calibrate ? Slice(progress, 0, kBuildShare) : progress, &slot->cancel, held_out);
  absl::Status status = built.status();
  absl::StatusOr<index::Calibration> measured = absl::UnknownError("not measured");
  if (status.ok() && calibrate) {
    // A calibration that fails (not cancelled) leaves the build standing: it is then calibrated
    // on sampled vectors after publishing, like a build too small to hold rows out.
    measured = CalibrateHeldOut(*slot, **built, held_out);
    if (absl::IsCancelled(measured.status())) {
      status = measured.status();
    } else if (!measured.ok()) {
      spdlog::warn("collection {}: {} not calibrated on its held-out rows: {}", meta_.name,
                   slot->name, measured.status().ToString());
    }
  }
  if (status.ok()) status = Publish(*slot, std::move(*built));
  if (status.ok() && measured.ok()) {
    const std::string name = slot->name;
    if (absl::Status folded = FoldCalibration(
            *measured,
            [&name](const index::Plan& plan) { return index::PlanUsesIndex(plan, name); });
        !folded.ok()) {
      spdlog::error("collection {}: {} calibration not kept: {}", meta_.name, name,
                    folded.ToString());
    }
  }
  {
    std::unique_lock table_lock(table_mutex_);
    slot->log_writes = false;
    slot->written.clear();
    slot->replayed = 0;
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
    // Before the build says it is ready, so that whoever waited for it finds the calibration
    // that follows already running.
    CalibrateAfterBuild(measured.ok(), slot);
    SetBuildState(*slot, "ready", "");
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
  // rest of the log is replayed into the new index (which no search sees yet) under shared holds,
  // so searches go on meanwhile; the swap takes one short exclusive hold.
  const std::unique_lock write_lock = LockWritersApplied();
  RETURN_IF_ERROR(CatchUp(slot, *built));
  const auto maintenance_lock = LockIndexMaintenance();  // the old index is destroyed
  std::unique_lock table_lock(table_mutex_);
  if (slot.cancel) return absl::CancelledError(absl::StrCat(slot.name, " build cancelled"));
  slot.served = std::move(built);
  ++slot.served_generation;
  return absl::OkStatus();
}

absl::Status Collection::CatchUp(IndexSlot& slot, index::ServedIndex& built) {
  for (;;) {
    if (slot.cancel) return absl::CancelledError(absl::StrCat(slot.name, " build cancelled"));
    auto table_lock = BackgroundTableHold();
    const size_t end = std::min(slot.written.size(), slot.replayed + kTableRowsPerHold);
    if (slot.replayed == end) return absl::OkStatus();
    for (size_t i = slot.replayed; i < end; ++i) {
      const LoggedWrite& write = slot.written[i];
      if (table_.RowOf(write.id) == write.row) {
        built.Upsert(table_, write.row);
      } else {
        built.Remove(write.row, write.id);
      }
    }
    slot.replayed = end;
  }
}

absl::StatusOr<index::Calibration> Collection::CalibrateHeldOut(
    IndexSlot& slot, index::ServedIndex& built, const index::HeldOutRows& held_out) {
  // The writes made during the build first, so that the truth's rows are the index's.
  RETURN_IF_ERROR(CatchUp(slot, built));
  const std::string name(built.name());
  auto access = [&](const std::function<void(const index::CalibrationView&)>& step) {
    auto table_lock = BackgroundTableHold();
    std::vector<const index::ServedIndex*> ready = ReadyLocked();
    std::erase_if(ready, [&](const index::ServedIndex* served) { return served->name() == name; });
    ready.push_back(&built);  // in place of the index it replaces
    step({table_, ready, ShapeLocked()});
  };
  index::CalibrationOptions options;
  options.queries = options_.calibration_queries;
  options.max_queries = kAdaptiveQueriesFactor * options_.calibration_queries;
  options.held_out = &held_out;
  options.flat_plans = false;
  options.only_index = name;
  options.ks = DefaultCalibrationKs(size());
  const index::Progress progress = [&slot](double f) {
    slot.progress = kBuildShare + f * (0.95 - kBuildShare);
  };
  absl::StatusOr<index::Calibration> measured =
      index::Calibrate(access, meta_.metric, options, progress, &slot.cancel);
  if (absl::IsCancelled(measured.status())) return measured.status();
  if (measured.ok()) {
    spdlog::info("collection {}: {} calibrated on {} held-out rows", meta_.name, name,
                 held_out.size());
  }
  // Then the held-out rows join the index like any write made during the build, whether or not
  // the calibration succeeded (the index must hold every row).
  for (size_t begin = 0; begin < held_out.size(); begin += kHeldOutRowsPerHold) {
    if (slot.cancel) return absl::CancelledError(absl::StrCat(slot.name, " build cancelled"));
    auto table_lock = BackgroundTableHold();
    const size_t end = std::min(held_out.size(), begin + kHeldOutRowsPerHold);
    for (size_t i = begin; i < end; ++i) {
      const index::RowId row = held_out.rows()[i];
      if (row < table_.row_count() && table_.IsLive(row)) built.Upsert(table_, row);
    }
  }
  return measured;
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
    // (A default budget among the blobs is an earlier build's; LoadDefaultBudget moves it.)
    if (blob_name == kCalibrationBlob || blob_name == kDefaultBudgetSetting ||
        blob_name == kDriftReferenceBlob || blob_name == kResidentInt8Blob) {
      continue;  // not indexes
    }
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
      // Before any write: the absorber has nothing to prepare, so no maintenance hold is needed.
      slot.served = std::move(*loaded);
      ++slot.served_generation;
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
    const auto maintenance_lock = LockIndexMaintenance();
    std::unique_lock table_lock(table_mutex_);
    slot->served.reset();
    ++slot->served_generation;
  }
  {
    std::lock_guard build_lock(build_mutex_);
    slot->state.clear();
    slot->error.clear();
  }
  // Its points leave the frontier; every other plan keeps what it measured.
  const std::string dropped(name);
  return FoldCalibration(
      {}, [&dropped](const index::Plan& plan) { return index::PlanUsesIndex(plan, dropped); });
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
  if (options_.on_index_change) options_.on_index_change(metrics_label(), status);
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
