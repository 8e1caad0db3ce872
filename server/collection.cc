// Collection: synced commit first, then the in-memory apply (table and indexes), so an
// acknowledged write survives a crash and is visible to the next search. Index builds run on their
// own threads and read the table in short shared holds; writes made meanwhile are replayed at
// publish (collection_indexes.cc).
#include "server/collection.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/flat_search.h"
#include "index/plan_chooser.h"
#include "spdlog/spdlog.h"

namespace adanns::server {

Collection::~Collection() {
  for (const std::unique_ptr<IndexSlot>& slot : slots_) StopBuild(*slot);
  std::lock_guard calibration_lock(calibration_lifecycle_mutex_);
  StopCalibrationLocked();
}

absl::Status Collection::Load() {
  std::unique_lock lock(table_mutex_);
  RETURN_IF_ERROR(store_->ScanVectors(
      meta_.id, meta_.dim,
      [this](uint64_t id, std::span<const float> values) { table_.Upsert(id, values); }));
  AttachGpuLocked();
  LoadCalibration();
  LoadDefaultBudget();
  return LoadIndexes();
}

size_t Collection::size() const {
  std::shared_lock lock(table_mutex_);
  return table_.size();
}

size_t Collection::vector_memory_bytes() const {
  std::shared_lock lock(table_mutex_);
  return table_.memory_bytes();
}

absl::Status Collection::CheckNotDropped() const {
  if (dropped_) {
    return absl::NotFoundError(absl::StrCat("collection '", meta_.name, "' was dropped"));
  }
  return absl::OkStatus();
}

absl::Status Collection::Upsert(std::span<const uint64_t> ids, std::span<const float> values) {
  std::lock_guard write_lock(write_mutex_);
  RETURN_IF_ERROR(CheckNotDropped());
  RETURN_IF_ERROR(CheckFitsGpuStorage(ids, values));
  RETURN_IF_ERROR(store_->PutVectors(meta_.id, meta_.dim, ids, values));
  std::unique_lock table_lock(table_mutex_);
  std::vector<index::RowId> rows(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    rows[i] = table_.Upsert(ids[i], values.subspan(i * meta_.dim, meta_.dim));
    ApplyUpsertLocked(rows[i]);
  }
  MirrorRowsLocked(rows, values.data());
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Collection::Delete(std::span<const uint64_t> ids) {
  std::lock_guard write_lock(write_mutex_);
  RETURN_IF_ERROR(CheckNotDropped());
  // Only writers change the table and they hold write_mutex_, so it can be read here unlocked.
  std::vector<uint64_t> present;
  for (uint64_t id : ids) {
    if (table_.RowOf(id).has_value()) present.push_back(id);
  }
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  if (present.empty()) return 0;
  RETURN_IF_ERROR(store_->DeleteVectors(meta_.id, present));
  std::unique_lock table_lock(table_mutex_);
  std::vector<index::RowId> rows;
  rows.reserve(present.size());
  for (uint64_t id : present) {
    rows.push_back(*table_.RowOf(id));
    ApplyRemoveLocked(rows.back(), id);
    table_.Remove(id);
  }
  MirrorClearLocked(rows);
  return present.size();
}

void Collection::Get(std::span<const uint64_t> ids,
                     std::vector<std::pair<uint64_t, std::vector<float>>>* found,
                     std::vector<uint64_t>* missing) const {
  std::shared_lock lock(table_mutex_);
  for (uint64_t id : ids) {
    if (auto row = table_.RowOf(id)) {
      const float* data = table_.RowData(*row);
      found->emplace_back(id, std::vector<float>(data, data + meta_.dim));
    } else {
      missing->push_back(id);
    }
  }
}

absl::StatusOr<SearchOutcome> Collection::Search(std::span<const float> queries,
                                                 uint32_t query_dims, size_t num_queries,
                                                 uint32_t k, index::Budget budget,
                                                 SearchDevice device, size_t threads,
                                                 const std::function<bool()>& abandoned) const {
  const SearchLimits& limits = options_.limits;
  SearchOutcome outcome;
  // Over a limit: lowered to it (clamp) or refused.
  auto over_limit = [&](absl::string_view what, double asked, double limit) {
    if (limits.clamp) {
      outcome.clamped = true;
      return absl::OkStatus();
    }
    return absl::ResourceExhaustedError(
        absl::StrCat(what, " = ", asked, " exceeds this server's limit of ", limit));
  };
  std::shared_ptr<const index::Calibration> calibration;
  {
    std::lock_guard calibration_lock(calibration_mutex_);
    calibration = calibration_.frontier;
    const bool unset = !budget.max_mflops && !budget.target_recall && !budget.plan;
    if (unset && default_budget_.has_value()) {
      const std::optional<uint32_t> max_dims = budget.max_dims;
      budget = *default_budget_;
      if (max_dims.has_value()) budget.max_dims = max_dims;
    }
  }
  if (k > limits.max_k) {
    RETURN_IF_ERROR(over_limit("k", k, limits.max_k));
    k = limits.max_k;
  }
  if (limits.max_mflops > 0 && budget.max_mflops.value_or(0) > limits.max_mflops) {
    RETURN_IF_ERROR(over_limit("budget.max_mflops", *budget.max_mflops, limits.max_mflops));
    budget.max_mflops = limits.max_mflops;
  }

  std::shared_lock lock(table_mutex_);
  const index::CollectionShape shape{meta_.dim, meta_.nesting_dims, table_.size(), meta_.metric};
  const std::vector<const index::ServedIndex*> ready = ReadyLocked();
  ASSIGN_OR_RETURN(index::PlanChoice choice,
                   index::PlanSearch(budget, shape, k, ready, calibration.get()));
  index::Plan& plan = choice.plan;
  if (limits.max_rerank_candidates > 0 &&
      plan.rerank_candidates.value_or(0) > limits.max_rerank_candidates) {
    RETURN_IF_ERROR(over_limit("plan.rerank_candidates", *plan.rerank_candidates,
                               limits.max_rerank_candidates));
    // A re-rank returns at most the candidates it scores: clamping below k cannot serve the
    // request, and clamping to k would break the limit.
    if (k > limits.max_rerank_candidates) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "k = ", k, " needs at least ", k, " re-rank candidates, over this server's limit of ",
          limits.max_rerank_candidates, " (--max_rerank_candidates); ask for k <= ",
          limits.max_rerank_candidates, " or a plan without a re-rank"));
    }
    plan.rerank_candidates = limits.max_rerank_candidates;
  }
  // The server's cap binds every plan; a request's own max_mflops is never above it here.
  const bool server_cap_binds =
      limits.max_mflops > 0 && plan.max_mflops.value_or(HUGE_VAL) > limits.max_mflops;
  if (server_cap_binds) plan.max_mflops = limits.max_mflops;
  if (query_dims < plan.QueryDimsNeeded()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query has ", query_dims, " dims but the plan needs ", plan.QueryDimsNeeded(), " (",
        plan.coarse_dims ? absl::StrCat("coarse_dims=", *plan.coarse_dims, ", ") : "",
        "search_dims=", *plan.search_dims,
        plan.rerank_dims ? absl::StrCat(", rerank_dims=", *plan.rerank_dims) : "", ")"));
  }
  outcome.estimate = choice.estimate;
  outcome.target_missed = !choice.target_met;
  ASSIGN_OR_RETURN(const bool on_gpu, UseGpuLocked(device, plan, k));
  if (on_gpu) {
    const absl::Status gpu_status =
        SearchOnGpuLocked(plan, queries, query_dims, num_queries, k, outcome);
    if (gpu_status.ok()) return CheckServerCap(outcome, server_cap_binds);
    RETURN_IF_ERROR(FallBackFromGpu(gpu_status, device));
  }
  std::vector<index::SearchResult>& results = outcome.results;
  results.resize(num_queries);
  std::atomic<bool> gave_up{false};
  auto run_range = [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end && !gave_up; ++q) {
      if (abandoned && abandoned()) {
        gave_up = true;
        break;
      }
      const std::span<const float> query = queries.subspan(q * query_dims, query_dims);
      results[q] = index::RunPlan(plan, table_, meta_.metric, query, k, ready);
    }
  };
  const size_t workers = std::clamp<size_t>(threads, 1, num_queries);
  if (workers == 1) {
    run_range(0, num_queries);
  } else {
    std::vector<std::jthread> pool;
    const size_t per_worker = (num_queries + workers - 1) / workers;
    for (size_t begin = 0; begin < num_queries; begin += per_worker) {
      pool.emplace_back(run_range, begin, std::min(num_queries, begin + per_worker));
    }
  }  // joins
  if (gave_up) {
    return absl::CancelledError("search abandoned: the client cancelled or its deadline passed");
  }
  return CheckServerCap(outcome, server_cap_binds);
}

absl::StatusOr<SearchOutcome> Collection::CheckServerCap(SearchOutcome& outcome,
                                                         bool server_cap_binds) const {
  const SearchLimits& limits = options_.limits;
  const std::vector<index::SearchResult>& results = outcome.results;
  const bool stopped_by_server_cap =
      server_cap_binds && std::any_of(results.begin(), results.end(),
                                      [](const index::SearchResult& r) { return r.cost.capped; });
  if (stopped_by_server_cap && !limits.clamp) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the plan (index '", results.front().plan.index,
                     "') needs more than this server's limit of ", limits.max_mflops,
                     " MFLOPs per query; ask for less (budget.max_mflops or a cheaper plan)"));
  }
  outcome.clamped |= stopped_by_server_cap;
  return std::move(outcome);
}

void Collection::MarkDropped() {
  {
    std::lock_guard lifecycle_lock(lifecycle_mutex_);
    for (const std::unique_ptr<IndexSlot>& slot : slots_) StopBuild(*slot);
  }
  {
    std::lock_guard write_lock(write_mutex_);
    dropped_ = true;
  }
  std::lock_guard calibration_lock(calibration_lifecycle_mutex_);
  StopCalibrationLocked();
}

}  // namespace adanns::server
