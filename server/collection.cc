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
#include "index/plan_chooser.h"
#include "index/stage_scorer.h"
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
            if (options_.on_fetch) options_.on_fetch(meta_.name, rows, seconds);
          },
          options_.fetch_pool),
      table_(meta_.dim, meta_.resident_dims, TablePrecision(meta_.resident_precision)),
      reservoir_(options_.calibration_reservoir, meta_.dim, /*seed=*/0x5eed) {
  table_.set_stored_rows(&stored_vectors_);
  absorber_ = std::thread(&Collection::AbsorbLoop, this);
  applier_ = std::thread(&Collection::ApplyLoop, this);
}

Collection::~Collection() {
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

absl::StatusOr<uint64_t> Collection::CommitUpsert(UpsertBatch batch) {
  std::lock_guard write_lock(write_mutex_);
  RETURN_IF_ERROR(CheckNotDropped());
  RETURN_IF_ERROR(CheckFitsFloat16Storage(batch));
  RETURN_IF_ERROR(WaitForFreshRoom(batch.ids.size()));
  {
    std::unique_lock lock(apply_mutex_);
    apply_wake_.wait(lock, [this] { return apply_stop_ || to_apply_.size() < kMaxPendingApplies; });
  }
  RETURN_IF_ERROR(store_->PutVectorRows(meta_.id, meta_.dim, batch.ids, batch.rows));
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

absl::StatusOr<uint64_t> Collection::Delete(std::span<const uint64_t> ids) {
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
  if (present.empty()) return 0;
  RETURN_IF_ERROR(store_->DeleteVectors(meta_.id, present));
  std::vector<index::RowId> rows;
  for (size_t begin = 0; begin < present.size(); begin += kTableRowsPerHold) {
    const size_t end = std::min(present.size(), begin + kTableRowsPerHold);
    rows.clear();
    std::lock_guard maintenance_lock(index_maintenance_mutex_);  // Remove changes the indexes
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

absl::Status Collection::WaitForFreshRoom(size_t rows) {
  std::unique_lock lock(absorb_mutex_);
  const bool room = fresh_room_.wait_for(lock, options_.fresh_rows_wait, [&] {
    const size_t backlog = fresh_count_.load();
    return absorb_stop_ || backlog == 0 || backlog + rows <= options_.fresh_rows_cap;
  });
  if (room) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "collection '", meta_.name, "': ", fresh_count_.load(),
      " acknowledged vectors are still waiting for its indexes (at most ", options_.fresh_rows_cap,
      " may wait, since every search scans them exactly); the indexes "
      "are behind the ingest rate: retry in a few seconds, or send smaller messages"));
}

void Collection::WakeAbsorber() {
  { std::lock_guard lock(absorb_mutex_); }  // the absorber is waiting, or will see the new count
  absorb_wake_.notify_one();
}

void Collection::AbsorbLoop() {
  // Index maintenance uses what searches leave of the cores. Its costly part holds no lock a
  // search or writer waits for (below); only a preemption inside its short exclusive hold (at
  // most kIndexRowsPerHold links) can delay searches. Running those holds at normal priority on
  // another thread was measured worse (the write path then took more of the 2 cores).
  LowerThisThreadPriority(kAbsorberNice);
  // A fresh row with, per slot, the index (and its generation) it was prepared for and what its
  // PrepareUpsert did.
  struct PreparedSlot {
    index::ServedIndex* served = nullptr;
    uint64_t generation = 0;
    std::unique_ptr<index::PreparedUpsert> work;
  };
  struct PreparedRow {
    FreshRow fresh;
    std::vector<PreparedSlot> slots;
  };
  std::vector<PreparedRow> batch;
  // The row's resident prefix: what the indexes of that prefix read.
  std::vector<float> vector(table_.resident_dims());
  // The row's full vector, read from storage (keyed by id: no table hold) only for an index above
  // the resident prefix (a longer codebook).
  std::vector<float> full(table_.dim());
  std::vector<uint8_t> full_found;
  for (;;) {
    {
      std::unique_lock lock(absorb_mutex_);
      absorb_wake_.wait(
          lock, [this] { return absorb_stop_ || (!absorb_paused_ && fresh_count_.load() > 0); });
      if (absorb_stop_) return;
    }
    if (IndexUpkeepStep()) continue;  // no insert until the indexes' upkeep is done
    batch.clear();
    // The costly part of an insert (a graph's beam search at ef_construction, a centroid ranking,
    // an encode) reads only the index's own state and the row, copied in a short shared hold: it
    // runs with no table hold at all, so a writer waiting for its exclusive hold (and the searches
    // queued behind it) never waits for it. This thread is the indexes' only inserter; whatever
    // else changes or replaces a served index (a delete's Remove, a publish, a drop) takes
    // index_maintenance_mutex_ first, so what Prepare read still holds when the row is linked.
    for (size_t i = 0; i < kIndexRowsPerHold; ++i) {
      std::lock_guard maintenance_lock(index_maintenance_mutex_);
      PreparedRow* prepared = nullptr;
      {
        std::shared_lock table_lock(table_mutex_);
        if (i >= fresh_.size()) break;
        prepared = &batch.emplace_back();
        prepared->fresh = fresh_[i];
        const index::RowId row = prepared->fresh.row;
        if (!table_.IsLive(row) || table_.IdOf(row) != prepared->fresh.id) continue;
        const float* prefix = table_.RowPrefix(row, table_.resident_dims(), vector.data());
        if (prefix != vector.data()) std::copy_n(prefix, vector.size(), vector.data());
        for (const std::unique_ptr<IndexSlot>& slot : slots_) {
          prepared->slots.push_back({slot->served.get(), slot->served_generation, nullptr});
        }
      }
      bool full_tried = false;
      bool full_read = false;
      for (PreparedSlot& slot : prepared->slots) {
        if (slot.served == nullptr) continue;
        std::span<const float> values = vector;
        if (slot.served->upsert_dims() > vector.size()) {
          if (!full_tried) {
            full_tried = true;
            const uint64_t id = prepared->fresh.id;
            full_read =
                stored_vectors_.Read({&id, 1}, full.data(), full_found).ok() && full_found[0] != 0;
          }
          // Unread (deleted meanwhile, or a read error): Apply does the whole insert instead.
          if (!full_read) continue;
          values = full;
        }
        slot.work = slot.served->PrepareUpsert(prepared->fresh.id, values);
      }
    }
    {
      std::unique_lock table_lock(table_mutex_);
      size_t inserted = 0;
      for (PreparedRow& prepared : batch) {
        // Writers only append to fresh_ and only this thread pops it: its front is this row.
        const FreshRow fresh = fresh_.front();
        fresh_.pop_front();
        if (const auto it = fresh_ids_.find(fresh.id);
            it != fresh_ids_.end() && --it->second == 0) {
          fresh_ids_.erase(it);
        }
        // Deleted, or taken over by another id, since: nothing to insert.
        if (!table_.IsLive(fresh.row) || table_.IdOf(fresh.row) != fresh.id) continue;
        for (size_t s = 0; s < slots_.size(); ++s) {
          index::ServedIndex* served = slots_[s]->served.get();
          if (served == nullptr) continue;
          // An index published since Prepare gets the whole insert here.
          std::unique_ptr<index::PreparedUpsert> work;
          if (s < prepared.slots.size() && prepared.slots[s].served == served &&
              prepared.slots[s].generation == slots_[s]->served_generation) {
            work = std::move(prepared.slots[s].work);
          }
          served->ApplyUpsert(table_, fresh.row, std::move(work));
        }
        ++inserted;
      }
      fresh_count_ = fresh_.size();
      NoteHold(0, inserted);
    }
    { std::lock_guard lock(absorb_mutex_); }
    fresh_room_.notify_all();
  }
}

bool Collection::IndexUpkeepStep() {
  std::shared_lock table_lock(table_mutex_);
  bool more = false;
  for (const std::unique_ptr<IndexSlot>& slot : slots_) {
    if (slot->served && slot->served->UpkeepStep()) more = true;
  }
  return more;
}

void Collection::PauseIndexMaintenance(bool paused) {
  {
    std::lock_guard lock(absorb_mutex_);
    absorb_paused_ = paused;
  }
  absorb_wake_.notify_all();
}

void Collection::NoteHold(size_t table_rows, size_t index_rows) {
  auto raise = [](std::atomic<size_t>& most, size_t value) {
    size_t seen = most.load();
    while (value > seen && !most.compare_exchange_weak(seen, value)) {
    }
  };
  raise(max_table_rows_per_hold_, table_rows);
  raise(max_index_rows_per_hold_, index_rows);
}

HoldStats Collection::hold_stats() const {
  return {max_table_rows_per_hold_.load(), max_index_rows_per_hold_.load()};
}

void Collection::MergeFreshLocked(std::span<const float> query, uint32_t k, const index::Plan& plan,
                                  index::SearchResult& result) const {
  // The dims the index's final scores use: the re-rank's, else the scan's.
  const uint32_t dims = plan.has_rerank() && plan.rerank_dims.has_value()
                            ? *plan.rerank_dims
                            : plan.search_dims.value_or(meta_.dim);
  std::vector<index::ScoredRow> rows;
  rows.reserve(fresh_.size());
  for (const FreshRow& fresh : fresh_) {
    if (table_.IsLive(fresh.row) && table_.IdOf(fresh.row) == fresh.id) {
      rows.push_back({0, fresh.row});
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const index::ScoredRow& a, const index::ScoredRow& b) { return a.row < b.row; });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const index::ScoredRow& a, const index::ScoredRow& b) {
                           return a.row == b.row;
                         }),
             rows.end());
  index::StageScorer scorer(meta_.metric, query.first(dims), dims);
  if (plan.max_mflops.has_value()) {  // the plan's hard cap binds this scan too
    const double room = *plan.max_mflops * 1e6 - result.cost.mflops * 1e6;
    const auto fits = static_cast<size_t>(std::max(0.0, room / scorer.flops_per_row()));
    if (fits < rows.size()) {
      rows.resize(fits);
      result.cost.capped = true;
    }
  }
  result.cost.vectors_scanned += rows.size();
  // Where the final dims are read from storage (a tiered table), the fresh rows are first
  // shortlisted on the resident prefix in memory, so a backlog of up to fresh_rows_cap rows costs
  // a few reads, not one per row.
  const size_t shortlist = std::max<size_t>(kFreshShortlistPerK * k, kFreshShortlistMin);
  if (table_.RerankReadsStorage(dims) && rows.size() > shortlist) {
    const uint32_t prefix_dims = std::min(dims, table_.resident_dims());
    index::StageScorer prefix(meta_.metric, query.first(prefix_dims), prefix_dims);
    result.cost.mflops += static_cast<double>(rows.size()) * prefix.flops_per_row() / 1e6;
    rows = index::ShortlistRows(table_, prefix, rows, shortlist);
  }
  const uint64_t fetched_before = index::tls_fetch_ledger.rows;
  const std::vector<index::ScoredRow> best = index::RerankRows(table_, scorer, rows, k);
  result.cost.vectors_fetched += index::tls_fetch_ledger.rows - fetched_before;
  result.cost.mflops += static_cast<double>(rows.size()) * scorer.flops_per_row() / 1e6;
  // An index hit of an id written since the index saw it scored its old vector: the scan has the
  // new one.
  std::vector<std::pair<float, uint64_t>> merged;  // (distance, id): smaller is better
  merged.reserve(result.hits.size() + best.size());
  for (const index::Hit& hit : result.hits) {
    if (!fresh_ids_.contains(hit.id)) {
      merged.emplace_back(meta_.metric == Metric::kL2 ? hit.score : -hit.score, hit.id);
    }
  }
  for (const index::ScoredRow& row : best) merged.emplace_back(row.distance, table_.IdOf(row.row));
  std::sort(merged.begin(), merged.end());
  if (merged.size() > k) merged.resize(k);
  result.hits.clear();
  for (const auto& [distance, id] : merged) result.hits.push_back({id, scorer.ToScore(distance)});
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
