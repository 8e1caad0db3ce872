// Collection: the buffer of fresh rows between a synced write and the served indexes. A write is
// searchable once in the table; the absorber thread then inserts it into every served index a few
// rows per hold (its costly part with no table hold), and until then every index search merges an
// exact scan of the fresh rows (MergeFreshLocked). The buffer's cap is the writers' backpressure.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/stage_scorer.h"
#include "index/topk.h"
#include "server/collection.h"
#include "server/thread_priority.h"

namespace adanns::server {

absl::Status Collection::WaitForFreshRoom(size_t rows) {
  std::unique_lock lock(absorb_mutex_);
  const auto fits = [&] {
    const size_t backlog = fresh_count_.load();
    return absorb_stop_ || backlog == 0 || backlog + rows <= options_.fresh_rows_cap;
  };
  if (fits()) return absl::OkStatus();
  // Past its patience the writer has the absorber leave the idle class (see AbsorbLoop).
  const auto start = std::chrono::steady_clock::now();
  bool room = fresh_room_.wait_until(lock, start + options_.fresh_rows_wait / 4, fits);
  if (!room) {
    writer_starved_ = true;
    room = fresh_room_.wait_until(lock, start + options_.fresh_rows_wait, fits);
    writer_starved_ = false;
  }
  if (room) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "collection '", meta_.name, "': ", fresh_count_.load(),
      " acknowledged vectors are still waiting for its indexes (at most ", options_.fresh_rows_cap,
      " may wait, since every search scans them exactly); the indexes "
      "are behind the ingest rate: retry in a few seconds, or send smaller messages"));
}

std::unique_lock<std::mutex> Collection::LockIndexMaintenance() {
  std::unique_lock lock(index_maintenance_mutex_, std::try_to_lock);
  if (lock.owns_lock()) return lock;
  // The absorber holds it for one row's prepare: it yields after that row (it checks the count),
  // and this caller does not wait for an idle-class thread to find a free core. The absorber
  // checks the count again after entering the idle class, so it cannot slip back in unseen.
  maintenance_waiters_.fetch_add(1);
  MoveThreadOutOfIdleClass(absorber_tid_.load());
  lock.lock();
  maintenance_waiters_.fetch_sub(1);
  return lock;
}

void Collection::WakeAbsorber() {
  { std::lock_guard lock(absorb_mutex_); }  // the absorber is waiting, or will see the new count
  absorb_wake_.notify_one();
}

void Collection::AbsorbLoop() {
  NameThisThread("adanns-absorb");
  // Index maintenance uses what searches leave of the cores. Its costly part (the prepares and the
  // indexes' upkeep) holds no lock a search waits for, only background holds (a preemption inside
  // one delays a writer, not searches): it runs in the idle class, which a waking search preempts
  // at once (at nice 19 the scheduler may let it finish its slice first). Its short exclusive
  // holds (at most kIndexRowsPerHold links) run in the normal class at nice 19: an idle-class
  // thread preempted inside one would wait for an idle core with every search queued behind it
  // (measured: one 88.8-ms search). Running those holds at nice 0 on another thread was measured
  // worse (the write path then took more of the 2 cores).
  LowerThisThreadPriority(kAbsorberNice);
  absorber_tid_ = ThisThreadId();
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
    // The idle class until the exclusive hold below, while searches come (SearchesComing: with
    // none, the idle class would only wait for other processes), unless someone waits for the
    // absorber (AbsorberAwaited): a writer that has waited a quarter of fresh_rows_wait for room,
    // or a delete, publish or drop waiting for index_maintenance_mutex_. The idle class may get no
    // core at all while searches keep both busy, and backpressure must slow writers down, not
    // refuse them (at nice 19 the absorber gets a small share of a busy core). IdleClassScope does
    // nothing where the thread could not leave the idle class (unprivileged, with an RLIMIT_NICE
    // below what nice 19 needs).
    std::optional<IdleClassScope> idle_class;
    if (SearchesComing() && !AbsorberAwaited()) idle_class.emplace(kAbsorberNice);
    if (AbsorberAwaited()) idle_class.reset();  // a waiter that came meanwhile may have missed us
    if (IndexUpkeepStep()) continue;            // no insert until the indexes' upkeep is done
    batch.clear();
    // The costly part of an insert (a graph's beam search at ef_construction, a centroid ranking,
    // an encode) reads only the index's own state and the row, copied in a short shared hold: it
    // runs with no table hold at all, so a writer waiting for its exclusive hold (and the searches
    // queued behind it) never waits for it. This thread is the indexes' only inserter; whatever
    // else changes or replaces a served index (a delete's Remove, a publish, a drop) takes
    // index_maintenance_mutex_ first, so what Prepare read still holds when the row is linked.
    for (size_t i = 0; i < kIndexRowsPerHold; ++i) {
      if (AbsorberAwaited()) idle_class.reset();
      // A change waiting for the mutex gets it before the next row (std::mutex is not fair: the
      // loop would take it back at once); the rows prepared so far are linked below.
      if (i > 0 && maintenance_waiters_.load() > 0) break;
      std::lock_guard maintenance_lock(index_maintenance_mutex_);
      PreparedRow* prepared = nullptr;
      {
        auto table_lock = BackgroundTableHold();
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
    idle_class.reset();
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
  auto table_lock = BackgroundTableHold();
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
  // The index's hits that stand, as (distance, id), smaller is better: an index hit of an id
  // written since the index saw it scored its old vector, and the scan has the new one.
  std::vector<std::pair<float, uint64_t>> merged;
  merged.reserve(result.hits.size() + k);
  for (const index::Hit& hit : result.hits) {
    if (!fresh_ids_.contains(hit.id)) {
      merged.emplace_back(meta_.metric == Metric::kL2 ? hit.score : -hit.score, hit.id);
    }
  }
  // The fresh rows go through the plan's own funnel: shortlisted on its scan prefix, then scored
  // at the final dims. Under a write stream every search scans the whole backlog (up to
  // fresh_rows_cap rows), so scoring all of it at the re-rank's dims would cost more than the
  // index search itself. Where the final dims are read from storage (a tiered table) the
  // shortlist is on the resident prefix, so the backlog costs a few reads, not one per row.
  const size_t shortlist = std::max<size_t>(
      {kFreshShortlistPerK * k, kFreshShortlistMin, plan.rerank_candidates.value_or(0)});
  const uint32_t scan_dims = std::min(plan.search_dims.value_or(dims), dims);
  const uint32_t prefix_dims =
      std::min(table_.RerankReadsStorage(dims) ? dims : scan_dims, table_.resident_dims());
  if (prefix_dims < dims) {
    index::StageScorer prefix(meta_.metric, query.first(prefix_dims), prefix_dims);
    result.cost.mflops += static_cast<double>(rows.size()) * prefix.flops_per_row() / 1e6;
    rows = index::ShortlistRows(table_, prefix, rows, shortlist);
    // A squared L2 distance only grows with the dims, so a fresh row whose prefix distance is
    // already past the index's k-th final distance cannot enter the top k: it is not re-ranked.
    // Exact only where the prefix holds the very values the final dims are scored on (fp32).
    if (meta_.metric == Metric::kL2 && table_.stored_precision() == index::Precision::kFloat32 &&
        k > 0 && merged.size() >= k) {
      std::nth_element(merged.begin(), merged.begin() + (k - 1), merged.end(),
                       [](const auto& a, const auto& b) {
                         return index::RanksBefore(a.first, a.second, b.first, b.second);
                       });
      // Slack for rounding: the prefix and the final distance are two sums, taken apart.
      const float limit = merged[k - 1].first * (1 + kFreshPrefixBoundSlack);
      std::erase_if(rows, [limit](const index::ScoredRow& row) { return row.distance > limit; });
    }
  }
  const uint64_t fetched_before = index::tls_fetch_ledger.rows;
  const std::vector<index::ScoredRow> best = index::RerankRows(table_, scorer, rows, k);
  result.cost.vectors_fetched += index::tls_fetch_ledger.rows - fetched_before;
  result.cost.mflops += static_cast<double>(rows.size()) * scorer.flops_per_row() / 1e6;
  for (const index::ScoredRow& row : best) merged.emplace_back(row.distance, table_.IdOf(row.row));
  std::sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
    return index::RanksBefore(a.first, a.second, b.first, b.second);  // NaN last
  });
  if (merged.size() > k) merged.resize(k);
  result.hits.clear();
  for (const auto& [distance, id] : merged) result.hits.push_back({id, scorer.ToScore(distance)});
}

}  // namespace adanns::server
