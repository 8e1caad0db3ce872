// Collection: synced commit first, then the in-memory apply, so an acknowledged write survives a
// crash and is visible to the next search. A write applies to the table in short exclusive holds
// and is searchable at once; the served indexes absorb it afterwards on the absorber thread, a few
// rows per hold, and until then every index search scans it exactly (the small-buffer design of
// LSM stores and of other vector databases' growing segments): no search waits behind an index
// insert of a whole message. Index builds run on their own threads and read the table in short
// shared holds; writes made meanwhile are replayed at publish (collection_indexes.cc).
#include "server/collection.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/flat_search.h"
#include "index/held_out.h"
#include "index/plan_chooser.h"
#include "server/thread_priority.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

index::Precision TablePrecision(storage::ResidentPrecision precision) {
  switch (precision) {
    case storage::ResidentPrecision::kFloat16:
      return index::Precision::kFloat16;
    case storage::ResidentPrecision::kInt8:
      return index::Precision::kInt8;
    case storage::ResidentPrecision::kFloat32:
      break;
  }
  return index::Precision::kFloat32;
}

}  // namespace

Collection::Collection(storage::CollectionMeta meta, storage::RocksStore* store,
                       CollectionOptions options)
    : meta_(std::move(meta)),
      store_(store),
      options_(std::move(options)),
      stored_vectors_(
          store_, meta_.id, meta_.dim,
          [this](size_t rows, double seconds) {
            if (options_.on_fetch) options_.on_fetch(metrics_label(), rows, seconds);
          },
          options_.fetch_pool),
      table_(meta_.dim, meta_.resident_dims, TablePrecision(meta_.resident_precision)),
      reservoir_(options_.calibration_reservoir, meta_.dim, /*seed=*/0x5eed) {
  table_.set_stored_rows(&stored_vectors_);
  // A writer that waited kIdleHolderPatience for a background hold (see WriterPriorityMutex) lifts
  // its holder out of the idle class: the absorber's prepares and an automatic calibration run
  // there, and a busy machine may leave them no core.
  table_mutex_.set_background_wait_hook(&MoveThreadOutOfIdleClass, kIdleHolderPatience);
  absorber_ = std::thread(&Collection::AbsorbLoop, this);
  applier_ = std::thread(&Collection::ApplyLoop, this);
}

Collection::~Collection() {
  {
    std::unique_lock lock(recalibration_check_mutex_);
    recalibration_checks_stopped_ = true;
    recalibration_check_done_.wait(lock, [this] { return !recalibration_check_posted_; });
  }
  for (const std::unique_ptr<IndexSlot>& slot : slots_) StopBuild(*slot);
  {
    std::lock_guard calibration_lock(calibration_lifecycle_mutex_);
    StopCalibrationLocked();
  }
  {
    std::lock_guard lock(apply_mutex_);
    apply_stop_ = true;
  }
  apply_wake_.notify_all();
  applied_.notify_all();
  applier_.join();
  {
    std::lock_guard lock(absorb_mutex_);
    absorb_stop_ = true;
  }
  absorb_wake_.notify_all();
  fresh_room_.notify_all();
  absorber_.join();
}

absl::Status Collection::Load() {
  std::unique_lock lock(table_mutex_);
  RETURN_IF_ERROR(LoadInt8Params());
  // Only the resident prefix is read from each stored vector into memory.
  RETURN_IF_ERROR(store_->ScanVectorPrefixes(
      meta_.id, meta_.dim, table_.resident_dims(),
      [this](uint64_t id, std::span<const float> prefix) { table_.Upsert(id, prefix); }));
  PersistInt8ParamsIfLearned();
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
  UpsertBatch batch;
  batch.ids.assign(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i) batch.rows.push_back(values.data() + i * meta_.dim);
  ASSIGN_OR_RETURN(const uint64_t ticket, CommitUpsert(std::move(batch)));
  WaitApplied(ticket);  // `values` is the caller's: it must not be read after this returns
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Collection::CommitUpsert(UpsertBatch batch,
                                                  const storage::WritePosition* origin) {
  std::lock_guard write_lock(write_mutex_);
  RETURN_IF_ERROR(CheckNotDropped());
  RETURN_IF_ERROR(CheckFitsFloat16Storage(batch));
  RETURN_IF_ERROR(WaitForFreshRoom(batch.ids.size()));
  {
    std::unique_lock lock(apply_mutex_);
    apply_wake_.wait(lock, [this] { return apply_stop_ || to_apply_.size() < kMaxPendingApplies; });
  }
  RETURN_IF_ERROR(store_->PutVectorRows(meta_.id, meta_.dim, batch.ids, batch.rows, origin));
  uint64_t ticket;
  {
    std::lock_guard lock(apply_mutex_);
    ticket = ++committed_ticket_;
    to_apply_.push_back({ticket, std::move(batch)});
  }
  apply_wake_.notify_all();
  return ticket;
}

void Collection::WaitApplied(uint64_t ticket) {
  std::unique_lock lock(apply_mutex_);
  applied_.wait(lock, [&] { return apply_stop_ || applied_ticket_ >= ticket; });
}

std::unique_lock<std::mutex> Collection::LockWritersApplied() {
  std::unique_lock write_lock(write_mutex_);
  WaitApplied(committed_ticket_);  // no commit can follow while write_mutex_ is held
  return write_lock;
}

void Collection::ApplyLoop() {
  NameThisThread("adanns-apply");
  LowerThisThreadPriority(kWriterNice);
  for (;;) {
    const PendingApply* next;
    {
      std::unique_lock lock(apply_mutex_);
      apply_wake_.wait(lock, [this] { return apply_stop_ || !to_apply_.empty(); });
      if (apply_stop_) return;
      next = &to_apply_.front();  // stays put: writers only push at the back
    }
    ApplyToTable(next->batch);
    PersistInt8ParamsIfLearned();
    {
      std::lock_guard lock(apply_mutex_);
      applied_ticket_ = next->ticket;
      to_apply_.pop_front();
    }
    applied_.notify_all();
    apply_wake_.notify_all();
    WakeAbsorber();
  }
}

void Collection::ApplyToTable(const UpsertBatch& batch) {
  const std::span<const uint64_t> ids = batch.ids;
  std::vector<index::RowId> rows;
  for (size_t begin = 0; begin < ids.size(); begin += kTableRowsPerHold) {
    const size_t end = std::min(ids.size(), begin + kTableRowsPerHold);
    // This thread is the table's only appender: the memory of the rows it may append is readied
    // before the hold, so that no page of it is first touched while searches wait.
    if (table_.AppendNeedsSegments(end - begin)) {
      std::unique_lock table_lock(table_mutex_);
      table_.ReserveAppend(end - begin);
    }
    table_.PrefaultAppend(end - begin);
    rows.clear();
    std::unique_lock table_lock(table_mutex_);
    const bool indexes_served = !ReadyLocked().empty();
    for (size_t i = begin; i < end; ++i) {
      const index::RowId row = table_.Upsert(ids[i], {batch.rows[i], meta_.dim});
      rows.push_back(row);
      for (const std::unique_ptr<IndexSlot>& slot : slots_) {
        if (slot->log_writes) slot->written.push_back({row, ids[i]});
      }
      if (indexes_served) {
        fresh_.push_back({row, ids[i]});
        ++fresh_ids_[ids[i]];
      }
    }
    MirrorRowsLocked(rows);
    fresh_count_ = fresh_.size();
    NoteHold(end - begin, 0);
  }
}

absl::StatusOr<uint64_t> Collection::Delete(std::span<const uint64_t> ids,
                                            const storage::WritePosition* origin) {
  const std::unique_lock write_lock = LockWritersApplied();
  RETURN_IF_ERROR(CheckNotDropped());
  // The table changes only by writers' applies: none is pending and none can start, so it can be
  // read here unlocked.
  std::vector<uint64_t> present;
  for (uint64_t id : ids) {
    if (table_.RowOf(id).has_value()) present.push_back(id);
  }
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  if (present.empty() && origin == nullptr) return 0;
  RETURN_IF_ERROR(store_->DeleteVectors(meta_.id, present, origin));
  std::vector<index::RowId> rows;
  for (size_t begin = 0; begin < present.size(); begin += kTableRowsPerHold) {
    const size_t end = std::min(present.size(), begin + kTableRowsPerHold);
    rows.clear();
    const auto maintenance_lock = LockIndexMaintenance();  // Remove changes the indexes
    std::unique_lock table_lock(table_mutex_);
    for (size_t i = begin; i < end; ++i) {
      rows.push_back(*table_.RowOf(present[i]));
      ApplyRemoveLocked(rows.back(), present[i]);
      table_.Remove(present[i]);
    }
    MirrorClearLocked(rows);
    NoteHold(end - begin, 0);
  }
  return present.size();
}

absl::Status Collection::WithWritesPaused(const std::function<absl::Status()>& action) {
  const std::unique_lock write_lock = LockWritersApplied();
  RETURN_IF_ERROR(CheckNotDropped());
  return action();
}

std::vector<uint64_t> Collection::SampleIds(size_t count, uint64_t seed) const {
  std::shared_lock lock(table_mutex_);
  const index::HeldOutRows rows = index::SampleLiveRows(table_, count, seed);
  std::vector<uint64_t> ids;
  ids.reserve(rows.size());
  for (const index::RowId row : rows.rows()) ids.push_back(table_.IdOf(row));
  return ids;
}

absl::Status Collection::Get(std::span<const uint64_t> ids,
                             std::vector<std::pair<uint64_t, std::vector<float>>>* found,
                             std::vector<uint64_t>* missing) const {
  std::shared_lock lock(table_mutex_);
  std::vector<index::RowId> rows;
  std::vector<uint64_t> present;
  for (uint64_t id : ids) {
    if (auto row = table_.RowOf(id)) {
      rows.push_back(*row);
      present.push_back(id);
    } else {
      missing->push_back(id);
    }
  }
  std::vector<float> values(rows.size() * meta_.dim);
  std::vector<uint8_t> read;
  RETURN_IF_ERROR(table_.ReadFullRows(rows, values.data(), read));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!read[i]) {  // deleted from storage, not yet from the table
      missing->push_back(present[i]);
      continue;
    }
    const float* data = values.data() + i * meta_.dim;
    found->emplace_back(present[i], std::vector<float>(data, data + meta_.dim));
  }
  return absl::OkStatus();
}

absl::StatusOr<SearchOutcome> Collection::Search(std::span<const float> queries,
                                                 uint32_t query_dims, size_t num_queries,
                                                 uint32_t k, index::Budget budget,
                                                 SearchDevice device, WorkerPool* pool,
                                                 const std::function<bool()>& abandoned,
                                                 const ShardShareCap* shard_cap) const {
  const SearchLimits& limits = options_.limits;
  const MflopsCap cap = BindingMflopsCap(limits, shard_cap);
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
  if (cap.limit > 0 && budget.max_mflops.value_or(0) > cap.limit) {
    if (!cap.clamp) {
      return absl::ResourceExhaustedError(
          absl::StrCat("budget.max_mflops = ", *budget.max_mflops, " exceeds ", cap.name));
    }
    outcome.clamped = true;
    budget.max_mflops = cap.limit;
  }

  std::shared_lock lock(table_mutex_);
  const index::CollectionShape shape = ShapeLocked();
  const std::vector<const index::ServedIndex*> ready = ReadyLocked();
  absl::StatusOr<index::PlanChoice> planned =
      index::PlanSearch(budget, shape, k, ready, calibration.get());
  if (!planned.ok() && calibration == nullptr && budget.target_recall.has_value() &&
      absl::IsFailedPrecondition(planned.status())) {
    lock.unlock();  // the note reads the build and calibration states
    return absl::FailedPreconditionError(
        absl::StrCat(planned.status().message(), CalibrationProgressNote()));
  }
  RETURN_IF_ERROR(planned.status());
  index::PlanChoice& choice = *planned;
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
  const bool server_cap_binds = cap.limit > 0 && plan.max_mflops.value_or(HUGE_VAL) > cap.limit;
  if (server_cap_binds) plan.max_mflops = cap.limit;
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
    if (gpu_status.ok()) return CheckServerCap(outcome, cap, server_cap_binds);
    RETURN_IF_ERROR(FallBackFromGpu(gpu_status, device));
  }
  std::vector<index::SearchResult>& results = outcome.results;
  results.resize(num_queries);
  // A flat plan scans the table, fresh rows included; an index plan must add them.
  const bool merge_fresh = plan.index != "flat" && !fresh_.empty();
  std::atomic<bool> gave_up{false};
  std::mutex fetch_error_mutex;
  absl::Status fetch_error;  // guarded by fetch_error_mutex
  auto run_range = [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end && !gave_up; ++q) {
      if (abandoned && abandoned()) {
        gave_up = true;
        break;
      }
      const std::span<const float> query = queries.subspan(q * query_dims, query_dims);
      index::tls_fetch_ledger.error = absl::OkStatus();
      results[q] = index::RunPlan(plan, table_, meta_.metric, query, k, ready);
      if (merge_fresh) MergeFreshLocked(query, k, plan, results[q]);
      if (!index::tls_fetch_ledger.error.ok()) {  // a read from storage failed: no partial result
        std::lock_guard error_lock(fetch_error_mutex);
        if (fetch_error.ok()) fetch_error = index::tls_fetch_ledger.error;
        gave_up = true;
      }
    }
  };
  // The pool's workers read under this call's shared hold, which lasts until they all return.
  if (pool == nullptr || num_queries == 1) {
    run_range(0, num_queries);
  } else {
    pool->ParallelFor(num_queries, run_range);
  }
  if (!fetch_error.ok()) {
    return absl::Status(fetch_error.code(),
                        absl::StrCat("reading full vectors from storage for the re-rank failed: ",
                                     fetch_error.message()));
  }
  if (gave_up) {
    return absl::CancelledError("search abandoned: the client cancelled or its deadline passed");
  }
  return CheckServerCap(outcome, cap, server_cap_binds);
}

MflopsCap BindingMflopsCap(const SearchLimits& limits, const ShardShareCap* share) {
  MflopsCap cap{limits.max_mflops, limits.clamp,
                absl::StrCat("this server's limit of ", limits.max_mflops)};
  if (share != nullptr && share->max_mflops > 0 &&
      (cap.limit == 0 || share->max_mflops < cap.limit)) {
    cap = MflopsCap{
        share->max_mflops, share->clamp,
        absl::StrCat("this shard's share (", share->max_mflops,
                     ", by its size) of the cluster's limit of ", share->cluster_max_mflops)};
  }
  return cap;
}

absl::StatusOr<SearchOutcome> Collection::CheckServerCap(SearchOutcome& outcome,
                                                         const MflopsCap& cap, bool binds) {
  const std::vector<index::SearchResult>& results = outcome.results;
  const bool stopped_by_server_cap =
      binds && std::any_of(results.begin(), results.end(),
                           [](const index::SearchResult& r) { return r.cost.capped; });
  if (stopped_by_server_cap && !cap.clamp) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the plan (index '", results.front().plan.index, "') needs more than ", cap.name,
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
