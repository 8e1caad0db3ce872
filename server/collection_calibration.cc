// What a collection's budget planner works from: the calibration — one background run at a time,
// reading in short shared holds so writers and searches go on. Its points are kept per plan group
// (blob "calibration"): a build measures its own index on rows it held out (collection_indexes.cc),
// then the flat plans are measured here; a drop takes its index's points out; the Calibrate RPC,
// growth and query drift measure again (the reservoir of recent queries when it holds enough). The
// planner uses the merged frontier. Also the drift reference (blob "calibration_drift") and the
// collection's default budget (blob "default_budget", a v1.Budget).
#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "adanns/v1/adanns.pb.h"
#include "base/status_macros.h"
#include "server/collection.h"
#include "server/thread_priority.h"
#include "server/validation.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr uint32_t kMaxCalibrationQueries = 10000;
constexpr uint32_t kMaxCalibrationK = 1000;
constexpr uint32_t kDefaultKs[] = {1, 10, 100};
constexpr uint64_t kDefaultSeed = 1234;
// Stored vectors sampled as the drift reference when a calibration's own queries were sampled.
constexpr size_t kDriftReferenceQueries = 200;
// At most one automatic calibration per this long.
constexpr int64_t kAutoCalibrationSpacingMs = 60'000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<uint32_t> DefaultCalibrationKs(size_t vectors) {
  std::vector<uint32_t> ks;
  for (const uint32_t k : kDefaultKs) {
    if (k < vectors) ks.push_back(k);
  }
  return ks;
}

absl::StatusOr<CalibrationStatus> Collection::StartCalibration(CalibrationRequest request) {
  std::lock_guard lifecycle_lock(calibration_lifecycle_mutex_);
  RETURN_IF_ERROR(CheckNotDropped());  // a drop then waits for this lock to stop what starts
  const size_t vectors = size();
  if (request.ks.empty()) request.ks = DefaultCalibrationKs(vectors);
  if (request.ks.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", meta_.name, "' holds ", vectors, " vectors; calibration needs at least 2"));
  }
  for (const uint32_t k : request.ks) {
    if (k == 0 || k > kMaxCalibrationK) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibration ks must be in 1..", kMaxCalibrationK, ", got ", k));
    }
    if (k >= vectors) {
      return absl::FailedPreconditionError(absl::StrCat("calibrating k = ", k, " needs more than ",
                                                        k, " vectors; collection '", meta_.name,
                                                        "' holds ", vectors));
    }
  }
  std::sort(request.ks.begin(), request.ks.end());
  request.ks.erase(std::unique(request.ks.begin(), request.ks.end()), request.ks.end());
  if (request.queries == 0) request.queries = options_.calibration_queries;
  if (request.queries > kMaxCalibrationQueries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration queries must be in 1..", kMaxCalibrationQueries, ", got ", request.queries));
  }
  if (request.query_vectors.size() % meta_.dim != 0 ||
      request.query_vectors.size() / meta_.dim > kMaxCalibrationQueries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration query_vectors must hold whole vectors of ", meta_.dim, " floats, at most ",
        kMaxCalibrationQueries, " of them; got ", request.query_vectors.size(), " floats"));
  }
  if (request.seed == 0) request.seed = kDefaultSeed;
  if (request.query_vectors.empty() && request.source != CalibrationQueries::kSampled) {
    const size_t held = reservoir_.size();
    if (held >= kMinReservoirQueries) {
      request.query_vectors = reservoir_.Queries();
      request.source = CalibrationQueries::kReservoir;
    } else if (request.source == CalibrationQueries::kReservoir) {
      return absl::FailedPreconditionError(absl::StrCat(
          "collection '", meta_.name, "' has ", held,
          " queries in its reservoir; a calibration on "
          "it needs ",
          kMinReservoirQueries, " (searches at the full dim fill it",
          options_.calibration_reservoir == 0 ? "; the server runs with --calibration_reservoir=0"
                                              : "",
          ")"));
    } else {
      request.keep_index_points = true;  // stored vectors flatter index plans, not flat ones
    }
  }

  StopCalibrationLocked();  // a new request replaces the running one
  calibration_started_ms_ = NowMs();
  calibration_cancel_ = false;
  calibration_pacing_.Reset();
  calibration_progress_ = 0;
  CalibrationStatus status;
  {
    std::lock_guard calibration_lock(calibration_mutex_);
    calibration_.state = "calibrating";
    calibration_.error.clear();
    status = calibration_;
  }
  calibration_thread_ = std::thread(&Collection::RunCalibration, this, std::move(request));
  return status;
}

CalibrationStatus Collection::calibration_status() const {
  CalibrationStatus status;
  {
    std::lock_guard calibration_lock(calibration_mutex_);
    status = calibration_;
    status.paused_seconds = std::chrono::duration<double>(calibration_pacing_.paused()).count();
    status.progress = status.state == "calibrating" ? calibration_progress_.load()
                      : status.state == "ready"     ? 1.0
                                                    : 0.0;
    std::vector<std::string> sources;
    int64_t oldest = 0;
    for (const index::Frontier& frontier : stored_calibration_.frontiers) {
      for (const index::CalibrationPoint& point : frontier.points) {
        const std::string name(index::SourceName(point.source));
        if (std::find(sources.begin(), sources.end(), name) == sources.end()) {
          sources.push_back(name);
        }
        if (oldest == 0 || point.measured_unix_seconds < oldest) {
          oldest = point.measured_unix_seconds;
        }
      }
    }
    status.source = absl::StrJoin(sources, "+");
    if (oldest > 0)
      status.age_seconds = std::max<double>(0, absl::ToUnixSeconds(absl::Now()) - oldest);
  }
  status.reservoir_queries = reservoir_.size();
  status.recalibration_reason = RecalibrationDue().value_or("");
  return status;
}

void Collection::RunCalibration(CalibrationRequest request) {
  NameThisThread("adanns-calib");
  if (request.automatic) LowerThisThreadPriority(kAutoCalibrationNice);
  calibration_thread_id_ = ThisThreadId();
  const auto start = std::chrono::steady_clock::now();
  // The indexes whose points stay, when asked to keep them.
  std::vector<std::string> kept;
  if (request.keep_index_points) {
    auto table_lock = BackgroundTableHold();
    std::lock_guard calibration_lock(calibration_mutex_);
    for (const index::ServedIndex* served : ReadyLocked()) {
      const std::string name(served->name());
      for (const index::Frontier& frontier : stored_calibration_.frontiers) {
        if (std::any_of(frontier.points.begin(), frontier.points.end(), [&](const auto& point) {
              return index::PlanUsesIndex(point.plan, name);
            })) {
          kept.push_back(name);
          break;
        }
      }
    }
  }
  auto keeps = [&kept](const index::Plan& plan) {
    return std::any_of(kept.begin(), kept.end(),
                       [&](const std::string& name) { return index::PlanUsesIndex(plan, name); });
  };
  // An automatic calibration is the least urgent work: while searches keep coming it runs in the
  // idle class (a waking search preempts it at once), between its steps as well, and its steps
  // keep to kAutoCalibrationCoreShare of one core. A stop lifts it out and ends a pause
  // (StopCalibrationLocked), as does a writer that waited kIdleHolderPatience for its step (the
  // table mutex's hook); the next step goes back in.
  std::optional<IdleClassScope> idle_class;
  auto access = [&](const std::function<void(const index::CalibrationView&)>& step) {
    const bool yield_to_searches = request.automatic && SearchesComing();
    if (yield_to_searches) calibration_pacing_.Pause();
    if (!yield_to_searches) {
      idle_class.reset();
    } else if (idle_class.has_value()) {
      idle_class->Reenter();
    } else {
      idle_class.emplace(kAutoCalibrationNice);
    }
    if (calibration_cancel_) idle_class.reset();  // a stop may have come since it lifted us
    auto table_lock = BackgroundTableHold();
    std::vector<const index::ServedIndex*> ready = ReadyLocked();
    std::erase_if(ready, [&](const index::ServedIndex* served) {
      return std::find(kept.begin(), kept.end(), served->name()) != kept.end();
    });
    calibration_pacing_.BeginPiece();
    step({table_, ready, ShapeLocked()});
    calibration_pacing_.EndPiece();
  };
  index::CalibrationOptions options;
  options.queries = request.queries;
  options.max_queries = kAdaptiveQueriesFactor * request.queries;
  options.queries_given = request.query_vectors;
  options.given_source = request.source == CalibrationQueries::kReservoir
                             ? index::CalibrationSource::kReservoir
                             : index::CalibrationSource::kGiven;
  options.ks = request.ks;
  options.seed = request.seed;
  absl::StatusOr<index::Calibration> measured = index::Calibrate(
      access, meta_.metric, options, [this](double fraction) { calibration_progress_ = fraction; },
      &calibration_cancel_);
  idle_class.reset();  // the fold takes calibration_mutex_, which every search takes
  absl::Status status = measured.status();
  // Persisted before it is used, so a restart plans with what searches saw. Every point but
  // those of the kept indexes is replaced.
  if (status.ok()) {
    status = FoldCalibration(*measured, [&keeps](const index::Plan& plan) { return !keeps(plan); });
  }
  if (status.ok()) RecordDriftReference(request.query_vectors);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard calibration_lock(calibration_mutex_);
  if (status.ok()) {
    spdlog::info(
        "collection {}: calibrated in {:.1f} s ({:.1f} s of it paused for searches) on {} "
        "queries ({} indexes kept their points){}{}",
        meta_.name, seconds, std::chrono::duration<double>(calibration_pacing_.paused()).count(),
        measured->queries, kept.size(), request.reason.empty() ? "" : ": ", request.reason);
    calibration_.state = "ready";
    calibration_.seconds = seconds;
  } else if (absl::IsCancelled(status)) {
    calibration_.state = "cancelled";
  } else {
    spdlog::error("collection {}: calibration failed: {}", meta_.name, status.ToString());
    calibration_.state = "failed";
    calibration_.error = std::string(status.message());
  }
  calibration_thread_id_ = 0;  // the id may be reused once this thread exits
}

void Collection::StopCalibrationLocked() {
  calibration_cancel_ = true;
  calibration_pacing_.Interrupt();
  if (calibration_thread_.joinable()) {
    MoveThreadOutOfIdleClass(calibration_thread_id_.load());  // it notices the cancel sooner
    calibration_thread_.join();
  }
}

void Collection::CalibrateAfterBuild(bool index_measured, const IndexSlot* finished) {
  if (!options_.auto_calibrate) return;
  {
    std::lock_guard build_lock(build_mutex_);
    for (const std::unique_ptr<IndexSlot>& slot : slots_) {
      // The last build to finish calibrates.
      if (slot.get() != finished && slot->state == "building") return;
    }
  }
  // Flat plans have no index nodes to flatter a stored vector: sampled ones measure them fairly.
  CalibrationRequest request;
  request.keep_index_points = index_measured;
  request.reason = index_measured ? "after a build" : "after a build too small to hold rows out";
  absl::StatusOr<CalibrationStatus> started = StartCalibration(std::move(request));
  if (!started.ok() && !absl::IsNotFound(started.status())) {
    spdlog::warn("collection {}: not calibrated: {}", meta_.name, started.status().ToString());
  }
}

absl::Status Collection::FoldCalibration(const index::Calibration& measured,
                                         const std::function<bool(const index::Plan&)>& replaced) {
  // Every search takes calibration_mutex_ to read the frontier: the synced write of the blob
  // (which queues behind the upserts' WAL syncs under a write stream) and the merge run outside
  // it, and it is held only to copy the stored points and to swap the result in.
  std::lock_guard fold_lock(calibration_fold_mutex_);
  index::Calibration stored;
  {
    std::lock_guard calibration_lock(calibration_mutex_);
    if (stored_calibration_.frontiers.empty() && measured.frontiers.empty()) {
      return absl::OkStatus();
    }
    stored = index::Replaced(stored_calibration_, measured, replaced);
  }
  std::shared_ptr<const index::Calibration> frontier;
  if (stored.frontiers.empty()) {
    RETURN_IF_ERROR(store_->DeleteIndexBlob(meta_.id, kCalibrationBlob));
  } else {
    RETURN_IF_ERROR(
        store_->PutIndexBlob(meta_.id, kCalibrationBlob, index::SerializeCalibration(stored)));
    frontier = std::make_shared<const index::Calibration>(
        index::MergedFrontier(stored, PlannerCostAxis()));
  }
  std::lock_guard calibration_lock(calibration_mutex_);
  calibration_.frontier = std::move(frontier);
  stored_calibration_ = std::move(stored);
  if (calibration_.state == "none") calibration_.state = "ready";
  return absl::OkStatus();
}

void Collection::RecordDriftReference(std::span<const float> queries) {
  index::DriftReference reference;
  {
    auto table_lock = BackgroundTableHold();
    std::vector<float> sampled;
    if (queries.empty()) {
      // The calibration sampled stored vectors: so does the reference.
      const index::HeldOutRows rows =
          index::SampleLiveRows(table_, kDriftReferenceQueries, kDefaultSeed);
      sampled.resize(rows.rows().size() * meta_.dim);
      std::vector<uint8_t> found;
      if (absl::Status read = table_.ReadFullRows(rows.rows(), sampled.data(), found); !read.ok()) {
        spdlog::error("collection {}: drift reference not made: {}", meta_.name, read.ToString());
        return;
      }
      queries = sampled;  // a row deleted meanwhile reads as zeros: one odd anchor query at most
    }
    reference = index::MakeDriftReference(table_, meta_.metric, queries, kDefaultSeed);
  }
  if (absl::Status stored = store_->PutIndexBlob(meta_.id, kDriftReferenceBlob,
                                                 index::SerializeDriftReference(reference));
      !stored.ok()) {
    spdlog::error("collection {}: drift reference not stored: {}", meta_.name, stored.ToString());
  }
  std::lock_guard calibration_lock(calibration_mutex_);
  drift_reference_ = std::move(reference);
}

std::optional<std::string> Collection::RecalibrationDue() const {
  std::optional<index::DriftReference> reference;
  {
    std::lock_guard calibration_lock(calibration_mutex_);
    reference = drift_reference_;
  }
  if (!reference.has_value()) return std::nullopt;
  std::vector<double> recent;
  const std::vector<float> queries = reservoir_.Queries();
  if (queries.size() / meta_.dim >= kMinReservoirQueries) {
    for (size_t q = 0; q + meta_.dim <= queries.size(); q += meta_.dim) {
      recent.push_back(reference->NearestAnchor({queries.data() + q, meta_.dim}));
    }
  }
  return index::RecalibrationReason(*reference, size(), recent);
}

void Collection::ObserveSearch(std::span<const float> queries, uint32_t query_dims,
                               size_t num_queries) {
  if (query_dims == meta_.dim) {
    for (size_t q = 0; q < num_queries; ++q) {
      reservoir_.Offer(queries.subspan(q * query_dims, query_dims));
    }
  }
  last_search_ms_ = NowMs();
  const uint64_t before = searches_.fetch_add(num_queries);
  if (before / kRecalibrationCheckEvery != (before + num_queries) / kRecalibrationCheckEvery) {
    ScheduleRecalibrationCheck();
  }
}

bool Collection::SearchesComing() const {
  return NowMs() - last_search_ms_.load() <= kSearchesActiveMs;
}

void Collection::ScheduleRecalibrationCheck() {
  if (options_.upkeep_pool == nullptr) {
    MaybeRecalibrate();
    return;
  }
  {
    std::lock_guard lock(recalibration_check_mutex_);
    if (recalibration_check_posted_ || recalibration_checks_stopped_) return;
    recalibration_check_posted_ = true;
  }
  options_.upkeep_pool->Post([this] {
    MaybeRecalibrate();
    std::lock_guard lock(recalibration_check_mutex_);
    recalibration_check_posted_ = false;
    recalibration_check_done_.notify_all();  // under the lock: the destructor may be waiting
  });
}

void Collection::MaybeRecalibrate() {
  if (!options_.auto_calibrate) return;
  int64_t last = last_auto_calibration_ms_.load();
  if (last != 0 && NowMs() - last < kAutoCalibrationSpacingMs) return;
  {
    std::lock_guard calibration_lock(calibration_mutex_);
    if (calibration_.state == "calibrating" || stored_calibration_.frontiers.empty()) return;
  }
  const std::optional<std::string> reason = RecalibrationDue();
  if (!reason.has_value()) return;
  if (!last_auto_calibration_ms_.compare_exchange_strong(last, NowMs())) return;  // another did
  CalibrationRequest request;
  request.source = CalibrationQueries::kAuto;
  request.reason = *reason;
  request.automatic = true;
  absl::StatusOr<CalibrationStatus> started = StartCalibration(std::move(request));
  if (started.ok()) {
    spdlog::info("collection {}: automatic calibration started: {}", meta_.name, *reason);
  } else {
    spdlog::warn("collection {}: automatic calibration ({}) not started: {}", meta_.name, *reason,
                 started.status().ToString());
  }
}

std::string Collection::CalibrationProgressNote() const {
  {
    std::lock_guard build_lock(build_mutex_);
    for (const std::unique_ptr<IndexSlot>& slot : slots_) {
      if (slot->state == "building") {
        return absl::StrCat("; the ", slot->name, " build is ",
                            static_cast<int>(slot->progress.load() * 100),
                            "% done and calibrates its index when it finishes");
      }
    }
  }
  if (calibration_status().state != "calibrating") return "";
  const double progress = calibration_progress_.load();
  const double elapsed_s = double(NowMs() - calibration_started_ms_.load()) / 1000;
  std::string note =
      absl::StrCat("; a calibration is running: ", static_cast<int>(progress * 100), "% done");
  if (progress > 0.05) {
    absl::StrAppend(&note, ", about ", static_cast<int>(elapsed_s * (1 - progress) / progress + 1),
                    " s left");
  }
  return note;
}

void Collection::LoadCalibration() {
  if (absl::StatusOr<std::optional<std::string>> blob =
          store_->GetIndexBlob(meta_.id, kDriftReferenceBlob);
      blob.ok() && blob->has_value()) {
    absl::StatusOr<index::DriftReference> reference = index::DeserializeDriftReference(**blob);
    if (reference.ok()) {
      std::lock_guard calibration_lock(calibration_mutex_);
      drift_reference_ = *std::move(reference);
    } else {
      spdlog::error("collection {}: stored drift reference ignored: {}", meta_.name,
                    reference.status().ToString());
    }
  }
  absl::StatusOr<std::optional<std::string>> blob =
      store_->GetIndexBlob(meta_.id, kCalibrationBlob);
  if (!blob.ok() || !blob->has_value()) return;
  absl::StatusOr<index::Calibration> calibration = index::DeserializeCalibration(**blob);
  std::lock_guard calibration_lock(calibration_mutex_);
  if (!calibration.ok()) {
    spdlog::error("collection {}: stored calibration not loaded: {}", meta_.name,
                  calibration.status().ToString());
    calibration_.state = "failed";
    calibration_.error =
        absl::StrCat("stored calibration could not be loaded: ", calibration.status().message());
    return;
  }
  calibration_.frontier = std::make_shared<const index::Calibration>(
      index::MergedFrontier(*calibration, PlannerCostAxis()));
  stored_calibration_ = *std::move(calibration);
  calibration_.state = "ready";
}

absl::Status Collection::SetDefaultBudget(std::optional<index::Budget> budget,
                                          std::string encoded) {
  std::lock_guard lifecycle_lock(calibration_lifecycle_mutex_);  // one setter at a time
  RETURN_IF_ERROR(CheckNotDropped());
  if (budget.has_value()) {
    RETURN_IF_ERROR(store_->PutSetting(meta_.id, kDefaultBudgetSetting, encoded));
  } else {
    RETURN_IF_ERROR(store_->DeleteSetting(meta_.id, kDefaultBudgetSetting));
    encoded.clear();
  }
  std::lock_guard calibration_lock(calibration_mutex_);
  default_budget_ = std::move(budget);
  default_budget_encoded_ = std::move(encoded);
  return absl::OkStatus();
}

std::string Collection::default_budget_encoded() const {
  std::lock_guard calibration_lock(calibration_mutex_);
  return default_budget_encoded_;
}

void Collection::LoadDefaultBudget() {
  // A user's setting, so replicated: in the settings column family. Stores of earlier builds
  // kept it among the (never replicated) index blobs; move it once.
  if (absl::StatusOr<bool> moved = store_->MoveIndexBlobToSetting(meta_.id, kDefaultBudgetSetting);
      !moved.ok()) {
    spdlog::error("collection {}: moving the default budget to the settings: {}", meta_.name,
                  moved.status().ToString());
  }
  absl::StatusOr<std::optional<std::string>> blob =
      store_->GetSetting(meta_.id, kDefaultBudgetSetting);
  if (blob.ok() && !blob->has_value()) {  // not moved (a full disk, say): read it where it is
    blob = store_->GetIndexBlob(meta_.id, kDefaultBudgetSetting);
  }
  if (!blob.ok() || !blob->has_value()) return;
  v1::Budget proto;
  absl::StatusOr<index::Budget> budget = proto.ParseFromString(**blob)
                                             ? BudgetFromProto(proto)
                                             : absl::DataLossError("unparsable default budget");
  if (!budget.ok()) {
    spdlog::error("collection {}: stored default budget ignored: {}", meta_.name,
                  budget.status().ToString());
    return;
  }
  std::lock_guard calibration_lock(calibration_mutex_);
  default_budget_ = *std::move(budget);
  default_budget_encoded_ = **std::move(blob);
}

}  // namespace adanns::server
