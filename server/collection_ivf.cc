// Collection's IVF lifecycle: background build, publish with replay of concurrent writes,
// persistence of the trained state, drop and cancellation, and the status DescribeCollection shows.
#include <omp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "index/status_macros.h"
#include "server/collection.h"
#include "spdlog/spdlog.h"

namespace adanns::server {

absl::StatusOr<IndexStatus> Collection::StartIvfBuild(const index::IvfBuildParams& params) {
  std::lock_guard lifecycle_lock(lifecycle_mutex_);
  {
    std::lock_guard write_lock(write_mutex_);
    RETURN_IF_ERROR(CheckNotDropped());
  }
  {
    std::lock_guard build_lock(build_mutex_);
    if (ivf_state_ == "building") {
      return absl::FailedPreconditionError(
          absl::StrCat("collection '", meta_.name, "' is already building an IVF (",
                       static_cast<int>(ivf_progress_.load() * 100), "% done); drop it to cancel"));
    }
  }
  if (build_thread_.joinable()) build_thread_.join();  // the previous build has finished
  {
    // Parameters that can be checked now fail the request rather than the build.
    std::unique_lock table_lock(table_mutex_);
    if (table_.size() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("collection '", meta_.name, "' is empty; upsert vectors before BuildIndex"));
    }
    if (params.nlist > table_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ivf.nlist (", params.nlist, ") exceeds the collection's vectors (", table_.size(), ")"));
    }
    if (params.coarse_dims > meta_.dim || params.search_dims > meta_.dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ivf.coarse_dims and ivf.search_dims must be in 1..", meta_.dim, " (0 = default)"));
    }
    // From here every write is logged for the replay at publish.
    log_writes_ = true;
    written_rows_.clear();
  }
  cancel_build_ = false;
  ivf_progress_ = 0;
  SetBuildState("building", "");
  build_thread_ = std::thread(&Collection::RunIvfBuild, this, params);
  std::lock_guard build_lock(build_mutex_);
  std::shared_lock table_lock(table_mutex_);
  return IvfStatusLocked();
}

void Collection::RunIvfBuild(index::IvfBuildParams params) {
  omp_set_num_threads(std::max(1, options_.build_threads));
  const auto start = std::chrono::steady_clock::now();
  auto access = [this](const std::function<void(const index::VectorTable&)>& read) {
    std::shared_lock table_lock(table_mutex_);
    read(table_);
  };
  absl::StatusOr<std::unique_ptr<index::IvfIndex>> built = index::IvfIndex::Build(
      access, meta_.metric, params, [this](double f) { ivf_progress_ = f; }, &cancel_build_);
  absl::Status status = built.status();
  if (status.ok()) status = PublishIvf(std::move(*built));
  {
    std::unique_lock table_lock(table_mutex_);
    log_writes_ = false;
    written_rows_.clear();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (status.ok()) {
    spdlog::info("collection {}: IVF built in {:.2f} s", meta_.name, seconds);
    {
      std::lock_guard build_lock(build_mutex_);
      ivf_build_seconds_ = seconds;
    }
    SetBuildState("ready", "");
  } else if (absl::IsCancelled(status)) {
    SetBuildState("cancelled", std::string(status.message()));
  } else {
    spdlog::error("collection {}: IVF build failed: {}", meta_.name, status.ToString());
    SetBuildState("failed", std::string(status.message()));
  }
}

absl::Status Collection::PublishIvf(std::unique_ptr<index::IvfIndex> built) {
  // Blob first: a crash after it restarts with the new index, a crash before with the old one.
  RETURN_IF_ERROR(store_->PutIndexBlob(meta_.id, kIvfIndexName, built->Serialize()));
  std::lock_guard write_lock(write_mutex_);  // no writer is between its commit and its apply
  std::unique_lock table_lock(table_mutex_);
  if (cancel_build_) return absl::CancelledError("IVF build cancelled");
  for (index::RowId row : written_rows_) {
    if (table_.IsLive(row)) {
      built->Upsert(table_, row);
    } else {
      built->Remove(row);
    }
  }
  ivf_ = std::move(built);
  return absl::OkStatus();
}

void Collection::StopBuild() {
  cancel_build_ = true;
  if (build_thread_.joinable()) build_thread_.join();
}

absl::Status Collection::DropIvf() {
  std::lock_guard lifecycle_lock(lifecycle_mutex_);
  bool exists;
  {
    std::lock_guard build_lock(build_mutex_);
    exists = !ivf_state_.empty();
  }
  if (!exists) {
    return absl::NotFoundError(
        absl::StrCat("collection '", meta_.name, "' has no index named '", kIvfIndexName, "'"));
  }
  StopBuild();
  RETURN_IF_ERROR(store_->DeleteIndexBlob(meta_.id, kIvfIndexName));
  {
    std::unique_lock table_lock(table_mutex_);
    ivf_.reset();
  }
  std::lock_guard build_lock(build_mutex_);
  ivf_state_.clear();
  ivf_error_.clear();
  return absl::OkStatus();
}

void Collection::SetBuildState(const std::string& state, const std::string& error) {
  IndexStatus status;
  {
    std::lock_guard build_lock(build_mutex_);
    ivf_state_ = state;
    ivf_error_ = error;
    std::shared_lock table_lock(table_mutex_);
    status = IvfStatusLocked();
  }
  if (options_.on_index_change) options_.on_index_change(meta_.name, status);
}

IndexStatus Collection::IvfStatusLocked() const {
  IndexStatus status;
  status.name = kIvfIndexName;
  status.state = ivf_state_;
  status.error = ivf_error_;
  status.build_seconds = ivf_build_seconds_;
  status.progress = ivf_state_ == "ready" ? 1.0 : ivf_progress_.load();
  if (ivf_) {
    const index::IvfStats stats = ivf_->stats();
    status.memory_bytes = stats.centroid_bytes + stats.list_vector_bytes + stats.list_id_bytes;
    status.vectors_added_since_build =
        static_cast<int64_t>(table_.size()) - static_cast<int64_t>(stats.trained_vectors);
    status.rebuild_advised =
        status.vectors_added_since_build > kRebuildAdvisedGrowth * double(stats.trained_vectors);
    const index::IvfBuildParams& params = ivf_->params();
    status.params = {{"nlist", params.nlist},
                     {"coarse_dims", params.coarse_dims},
                     {"search_dims", params.search_dims},
                     {"kmeans_iterations", params.kmeans_iterations},
                     {"training_sample", params.training_sample},
                     {"seed", static_cast<double>(params.seed)}};
  }
  return status;
}

std::vector<IndexStatus> Collection::Indexes() const {
  std::vector<IndexStatus> indexes(1);
  indexes[0].name = "flat";
  indexes[0].state = "ready";
  indexes[0].progress = 1.0;
  std::lock_guard build_lock(build_mutex_);
  if (ivf_state_.empty()) return indexes;
  std::shared_lock table_lock(table_mutex_);
  indexes.push_back(IvfStatusLocked());
  return indexes;
}

}  // namespace adanns::server
