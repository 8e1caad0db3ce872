// What a collection's budget planner works from: the calibration — one background run at a time,
// reading in short shared holds so writers and searches go on; the frontier it measures is
// persisted (blob "calibration") and swapped in when it finishes; every finished build and index
// drop starts one (auto_calibrate), and the Calibrate RPC does on demand — and the collection's
// default budget (blob "default_budget", a v1.Budget).
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "adanns/v1/adanns.pb.h"
#include "base/status_macros.h"
#include "server/collection.h"
#include "server/validation.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

constexpr uint32_t kMaxCalibrationQueries = 10000;
constexpr uint32_t kMaxCalibrationK = 1000;
constexpr uint32_t kDefaultKs[] = {1, 10, 100};
constexpr uint64_t kDefaultSeed = 1234;

}  // namespace

absl::StatusOr<CalibrationStatus> Collection::StartCalibration(CalibrationRequest request) {
  std::lock_guard lifecycle_lock(calibration_lifecycle_mutex_);
  {
    std::lock_guard write_lock(write_mutex_);
    RETURN_IF_ERROR(CheckNotDropped());
  }
  const size_t vectors = size();
  if (request.ks.empty()) {
    for (const uint32_t k : kDefaultKs) {
      if (k < vectors) request.ks.push_back(k);
    }
  }
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

  StopCalibrationLocked();  // a new request replaces the running one
  calibration_cancel_ = false;
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
  std::lock_guard calibration_lock(calibration_mutex_);
  CalibrationStatus status = calibration_;
  status.progress = status.state == "calibrating" ? calibration_progress_.load()
                    : status.state == "ready"     ? 1.0
                                                  : 0.0;
  return status;
}

void Collection::RunCalibration(CalibrationRequest request) {
  const auto start = std::chrono::steady_clock::now();
  auto access = [this](const std::function<void(const index::CalibrationView&)>& step) {
    std::shared_lock table_lock(table_mutex_);
    const std::vector<const index::ServedIndex*> ready = ReadyLocked();
    step({table_, ready, {meta_.dim, meta_.nesting_dims, table_.size(), meta_.metric}});
  };
  index::CalibrationOptions options;
  options.queries = request.queries;
  options.queries_given = request.query_vectors;
  options.ks = request.ks;
  options.seed = request.seed;
  absl::StatusOr<index::Calibration> measured = index::Calibrate(
      access, meta_.metric, options, [this](double fraction) { calibration_progress_ = fraction; },
      &calibration_cancel_);
  absl::Status status = measured.status();
  // Persisted before it is used, so a restart plans with what searches saw.
  if (status.ok()) {
    status = store_->PutIndexBlob(meta_.id, kCalibrationBlob, SerializeCalibration(*measured));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard calibration_lock(calibration_mutex_);
  if (status.ok()) {
    spdlog::info("collection {}: calibrated in {:.1f} s on {} queries", meta_.name, seconds,
                 measured->queries);
    calibration_.frontier = std::make_shared<const index::Calibration>(*std::move(measured));
    calibration_.state = "ready";
    calibration_.seconds = seconds;
  } else if (absl::IsCancelled(status)) {
    calibration_.state = "cancelled";
  } else {
    spdlog::error("collection {}: calibration failed: {}", meta_.name, status.ToString());
    calibration_.state = "failed";
    calibration_.error = std::string(status.message());
  }
}

void Collection::StopCalibrationLocked() {
  calibration_cancel_ = true;
  if (calibration_thread_.joinable()) calibration_thread_.join();
}

void Collection::CalibrateAfterIndexChange() {
  if (!options_.auto_calibrate) return;
  {
    std::lock_guard build_lock(build_mutex_);
    for (const std::unique_ptr<IndexSlot>& slot : slots_) {
      if (slot->state == "building") return;  // the last build to finish calibrates
    }
  }
  absl::StatusOr<CalibrationStatus> started = StartCalibration({});
  if (!started.ok() && !absl::IsNotFound(started.status())) {
    spdlog::warn("collection {}: not calibrated: {}", meta_.name, started.status().ToString());
  }
}

void Collection::LoadCalibration() {
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
  calibration_.frontier = std::make_shared<const index::Calibration>(*std::move(calibration));
  calibration_.state = "ready";
}

absl::Status Collection::SetDefaultBudget(std::optional<index::Budget> budget,
                                          std::string encoded) {
  std::lock_guard lifecycle_lock(calibration_lifecycle_mutex_);  // one setter at a time
  {
    std::lock_guard write_lock(write_mutex_);
    RETURN_IF_ERROR(CheckNotDropped());
  }
  if (budget.has_value()) {
    RETURN_IF_ERROR(store_->PutIndexBlob(meta_.id, kDefaultBudgetBlob, encoded));
  } else {
    RETURN_IF_ERROR(store_->DeleteIndexBlob(meta_.id, kDefaultBudgetBlob));
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
  absl::StatusOr<std::optional<std::string>> blob =
      store_->GetIndexBlob(meta_.id, kDefaultBudgetBlob);
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
