// One collection in memory: its metadata, the vector table searches run on, its indexes (an
// AdANNS-IVF, an AdANNS-HNSW graph, AdANNS-OPQ codebooks; built in the background), and the write
// path that commits to RocksDB (synced) before a change becomes visible.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/writer_priority_mutex.h"
#include "index/batch_scorer.h"
#include "index/budget_planner.h"
#include "index/calibration.h"
#include "index/cuda/gpu.h"
#include "index/held_out.h"
#include "index/plan.h"
#include "index/query_drift.h"
#include "index/vector_table.h"
#include "server/collection_constants.h"
#include "server/collection_status.h"
#include "server/duty_cycle.h"
#include "server/index_kinds.h"
#include "server/query_reservoir.h"
#include "server/stored_vectors.h"
#include "server/worker_pool.h"
#include "storage/collection_meta.h"
#include "storage/rocks_store.h"

namespace adanns::server {

// The ks calibrated by default: 1, 10 and 100, those below the collection's size.
std::vector<uint32_t> DefaultCalibrationKs(size_t vectors);

// Test hook: the most work one exclusive table hold has done so far.
struct HoldStats {
  size_t max_table_rows = 0;  // rows applied to the table, the mirror or a replay
  size_t max_index_rows = 0;  // rows inserted into the served indexes
};

// The vectors of one upsert, validated: ids[i] has the collection's dim floats at rows[i]. `owner`
// keeps what the rows point into (the parsed message) alive until the table has them.
struct UpsertBatch {
  std::vector<uint64_t> ids;
  std::vector<const float*> rows;
  std::shared_ptr<const void> owner;
};

// Server-wide limits on what one search may ask for.
struct SearchLimits {
  // Most MFLOPs any query may spend (a hard cap on every plan); 0 = none.
  double max_mflops = 0;
  // Most re-rank candidates a plan may keep; 0 = none.
  uint32_t max_rerank_candidates = 0;
  // Most hits per query.
  uint32_t max_k = 10000;
  // Above a limit: lower the request to it and search (true), or RESOURCE_EXHAUSTED (false).
  bool clamp = false;
};

// A router's --max_query_mflops on one shard's part of a search: its share of the cluster's cap
// (split by shard sizes). Binds like SearchLimits::max_mflops; the lower of the two applies.
struct ShardShareCap {
  double max_mflops = 0;  // this shard's share; 0 = none
  double cluster_max_mflops = 0;
  bool clamp = false;  // the router's --over_limit
};

// The MFLOPs cap that binds one search, its policy, and how a refusal names it.
struct MflopsCap {
  double limit = 0;  // 0 = none
  bool clamp = false;
  std::string name;  // "this server's limit of 50"
};
MflopsCap BindingMflopsCap(const SearchLimits& limits, const ShardShareCap* share);

// Where a search may run (SearchRequest.device).
enum class SearchDevice { kAuto, kCpu, kGpu };

// Searches' results and what the planner knew of the plan.
struct SearchOutcome {
  std::vector<index::SearchResult> results;
  std::optional<index::RecallEstimate> estimate;
  bool target_missed = false;
  bool clamped = false;        // a SearchLimits limit lowered the request
  std::string device = "cpu";  // or the GPU's name
  double gpu_seconds = 0;      // wall time of the GPU calls
  uint64_t gpu_memory_bytes = 0;
};

// The collection's rows resident on a GPU for flat plans.
struct GpuOptions {
  // A usable GPU was found at start-up (and --gpu is not off).
  bool enabled = false;
  // Tests on machines without a GPU: a host-memory mirror (HostMirrorScorer) stands in for the
  // device, so the GPU path's mirroring and routing run for real. Implies enabled.
  bool emulate = false;
  // Default: fp32.
  index::gpu::Storage storage = index::gpu::Storage::kFloat32;
  // Device bytes one collection's rows may take; 0 = no limit. A collection past it stays on the
  // CPU (logged).
  uint64_t memory_budget_bytes = 0;
  // Makes a collection's scorer; null = the device's (index::gpu::CreateScorer), or the host
  // mirror when emulate is set. Tests put a failing scorer here to exercise the fallback.
  // Default: null.
  std::function<absl::StatusOr<std::unique_ptr<index::BatchScorer>>(
      const index::gpu::ScorerOptions&)>
      make_scorer;
};

struct CollectionOptions {
  // Appended to the collection's name in metric labels: a data node's shards of one collection
  // ("docs/0", "docs/1") must not share gauges. Default: empty (a standalone server).
  std::string metrics_label_suffix;
  // Threads one background build may use.
  // Default: 1.
  int build_threads = 1;
  // Calibration queries sampled from the stored vectors.
  // Default: 200.
  uint32_t calibration_queries = 200;
  // Calibrate every finished build on rows it held out, then the flat plans; recalibrate on growth
  // and query drift.
  // Default: true.
  bool auto_calibrate = true;
  // Recent search queries kept per collection for calibration and the drift check (0 = none).
  // Default: 1000.
  size_t calibration_reservoir = 1000;
  // Default: no MFLOPs or re-rank caps, k up to 10000, over-limit requests rejected.
  SearchLimits limits;
  // Default: no GPU.
  GpuOptions gpu;
  // Called (from the build thread) whenever an index's state changes; may be empty.
  std::function<void(const std::string& collection, const IndexStatus&)> on_index_change;
  // Called when a GPU call fails: action "dropped" (the collection left the GPU for good) or
  // "cpu_fallback" (one search ran on the CPU, e.g. out of device memory); may be empty.
  std::function<void(const std::string& collection, const std::string& action)> on_gpu_error;
  // Acknowledged rows the served indexes may have still to absorb. Every index search scans them
  // exactly at the plan's final prefix (at 784 dims 1024 rows cost 1.6 MFLOPs a query, about a
  // default graph search's own cost), so the cap bounds what a write stream adds to each search;
  // under a steady stream the backlog sits at the cap, and the upsert rate is the indexes' insert
  // rate whatever the cap. A message is admitted when it fits under the cap or the backlog is
  // empty (a message larger than the cap goes alone); the kMaxPendingApplies committed messages
  // the table has not taken yet come on top. Default: 1024.
  size_t fresh_rows_cap = 1024;
  // How long an Upsert waits for the backlog to fall below the cap before RESOURCE_EXHAUSTED.
  // Default: 5 s.
  std::chrono::milliseconds fresh_rows_wait{5000};
  // Called after every read of full vectors from storage (a tiered collection's re-rank,
  // calibration); may be empty.
  std::function<void(const std::string& collection, size_t rows, double seconds)> on_fetch;
  // Workers that split a large fetch into parallel reads (StoredVectors); null = one MultiGet.
  // Not owned. Default: null.
  WorkerPool* fetch_pool = nullptr;
  // Runs the growth and drift check a search triggers (ObserveSearch), off the search's thread;
  // must outlive the collection. Not owned. Default: null (the check runs on that search's thread).
  WorkerPool* upkeep_pool = nullptr;
};

class Collection {
 public:
  // Starts the collection's absorber thread (it waits for rows to absorb).
  Collection(storage::CollectionMeta meta, storage::RocksStore* store, CollectionOptions options);
  ~Collection();

  // Loads every stored vector, then each stored index (reconciled with the vectors, not rebuilt).
  // A corrupt blob is reported in that index's status, not fatal.
  absl::Status Load();

  const storage::CollectionMeta& meta() const { return meta_; }
  // The `collection` label of its metrics: the name, plus the shard on a data node.
  std::string metrics_label() const { return meta_.name + options_.metrics_label_suffix; }
  size_t size() const;
  // Bytes of the in-memory table (the resident prefixes on a tiered collection).
  size_t vector_memory_bytes() const;
  // The table's resident prefix (dim when every vector is whole in memory).
  uint32_t resident_dims() const { return table_.resident_dims(); }
  // The store's block cache (shared by every collection of the server).
  storage::RocksStore::BlockCacheStats block_cache_stats() const {
    return store_->block_cache_stats();
  }

  // Commits ids.size() vectors (row-major in `values`, already validated) as one synced batch,
  // then applies them to the table in holds of kTableRowsPerHold rows; the served indexes absorb
  // them in the background, and until they do every index search scans them exactly. Waits while
  // that backlog is at fresh_rows_cap (RESOURCE_EXHAUSTED, nothing written, past
  // fresh_rows_wait). NOT_FOUND once the collection is dropped.
  absl::Status Upsert(std::span<const uint64_t> ids, std::span<const float> values);
  // Upsert in two halves, so that one writer's commit overlaps the table taking its previous
  // write: CommitUpsert checks, commits the synced batch and queues it for the collection's
  // applier thread, which applies writes in commit order; it returns the write's ticket.
  // WaitApplied returns once that write (and every earlier one) is in the table, i.e. searchable:
  // a caller acknowledges only after it. Upsert is both.
  // `origin`: a follower applying a replicated write (storage/replication_log.h).
  absl::StatusOr<uint64_t> CommitUpsert(UpsertBatch batch,
                                        const storage::WritePosition* origin = nullptr);
  void WaitApplied(uint64_t ticket);
  // Deletes the ids that exist (one synced batch, applied in holds of kTableRowsPerHold rows);
  // returns how many did.
  absl::StatusOr<uint64_t> Delete(std::span<const uint64_t> ids,
                                  const storage::WritePosition* origin = nullptr);
  // Runs `action` with no write committing meanwhile and every committed one in the table (a
  // replica's full copy is taken in that moment, with its write position).
  absl::Status WithWritesPaused(const std::function<absl::Status()>& action);
  // The ids of `count` stored vectors drawn uniformly without replacement (seeded); all of them
  // when the collection holds fewer.
  std::vector<uint64_t> SampleIds(size_t count, uint64_t seed) const;
  // Copies stored vectors; `missing` receives absent ids. Both in request order. A tiered
  // collection reads them from storage (one batch; its error is returned).
  absl::Status Get(std::span<const uint64_t> ids,
                   std::vector<std::pair<uint64_t, std::vector<float>>>* found,
                   std::vector<uint64_t>* missing) const;

  // Plans the budget once (with the calibration in use) and runs the plan for each of
  // `num_queries` queries of `query_dims` floats, within the options' SearchLimits. Flat plans run
  // on the GPU when `device` allows and the collection has one (the whole batch in one call);
  // kGpu without one, or with another plan, is FAILED_PRECONDITION.
  // CPU queries are split over `pool` (the server's shared search workers; null = all on the
  // caller's thread). `abandoned` (may be empty) is polled between queries: once it returns true
  // (the client cancelled or its deadline passed) the remaining queries are skipped and CANCELLED
  // returned.
  // `shard_cap` (may be null): a router's cap on this shard's part of the search.
  absl::StatusOr<SearchOutcome> Search(std::span<const float> queries, uint32_t query_dims,
                                       size_t num_queries, uint32_t k, index::Budget budget,
                                       SearchDevice device, WorkerPool* pool,
                                       const std::function<bool()>& abandoned = nullptr,
                                       const ShardShareCap* shard_cap = nullptr) const;

  // The ids of the exact k nearest live rows to `query` at its length (1..dim), for the online
  // recall check: scanned kExactRowsPerHold rows per shared hold, never the whole table in one
  // (rows written between holds are seen by the holds after; an id moved meanwhile counts once).
  // A quantised resident prefix is scanned decoded and its best max(10k, 100) re-ranked exactly
  // from storage. FAILED_PRECONDITION when the query is longer than the resident prefix (a scan
  // from storage); INVALID_ARGUMENT for a query longer than dim.
  absl::StatusOr<std::vector<uint64_t>> ExactNearestIds(std::span<const float> query,
                                                        uint32_t k) const;

  // Starts a background calibration (replacing a running one) and returns its status.
  // FAILED_PRECONDITION when the collection is too small for the ks; INVALID_ARGUMENT for bad
  // queries or ks.
  absl::StatusOr<CalibrationStatus> StartCalibration(CalibrationRequest request);
  CalibrationStatus calibration_status() const;
  // What the server saw a search ask (after it answered): full-dim queries join the reservoir, and
  // every kRecalibrationCheckEvery searches the growth and drift check runs (MaybeRecalibrate).
  void ObserveSearch(std::span<const float> queries, uint32_t query_dims, size_t num_queries);

  // The budget of searches that set no max_mflops, target_recall or plan (their max_dims still
  // applies), or none; `encoded` (a v1.Budget) is what is persisted and reported.
  absl::Status SetDefaultBudget(std::optional<index::Budget> budget, std::string encoded);
  std::string default_budget_encoded() const;  // "" = none

  // Starts a background build of the index `request.name`; its status is "building" until it is
  // published (or fails), and the previous index of that name keeps serving meanwhile.
  // FAILED_PRECONDITION while a build of that name runs or when the collection is empty;
  // INVALID_ARGUMENT for parameters the collection cannot take.
  absl::StatusOr<IndexStatus> StartBuild(BuildRequest request);
  // Starts several builds (distinct names) after checking them all: one refused starts none.
  absl::StatusOr<std::vector<IndexStatus>> StartBuilds(std::vector<BuildRequest> requests);
  // Drops the index `name` (cancelling a running build) and its stored blob. NOT_FOUND without one.
  absl::Status DropIndex(std::string_view name);
  // Every index: "flat", then each that exists or was attempted.
  std::vector<IndexStatus> Indexes() const;
  // Restarts builds a crash or kill cut off (found by Load); stored indexes of those names keep
  // serving meanwhile. A restart that cannot start is reported as a failed build.
  void ResumeInterruptedBuilds();

  // Refuses further writes and stops a running build; called by the engine before the store
  // drops the data.
  void MarkDropped();

  // Acknowledged rows the served indexes have not absorbed yet.
  size_t fresh_rows() const { return fresh_count_.load(); }
  // A writer has waited over a quarter of fresh_rows_wait for room (the absorber then stays out
  // of the idle scheduling class).
  bool writer_starved() const { return writer_starved_.load(); }
  // Test hooks: stop or restart the absorber (searches must then find new rows through the exact
  // scan alone); the most work any exclusive hold did.
  void PauseIndexMaintenance(bool paused);
  HoldStats hold_stats() const;

 private:
  // A row a writer touched while a build ran, with the id it held, replayed at publish.
  struct LoggedWrite {
    index::RowId row;
    uint64_t id;
  };
  // One index's served instance and build lifecycle.
  struct IndexSlot {
    std::string name;
    std::string kind;
    std::unique_ptr<index::ServedIndex> served;  // guarded by table_mutex_ (and see below)
    uint64_t served_generation = 0;    // guarded by table_mutex_; bumped whenever `served` changes
    bool log_writes = false;           // guarded by table_mutex_
    std::vector<LoggedWrite> written;  // guarded by table_mutex_
    std::string state;                 // guarded by build_mutex_; "" = never built
    std::string error;                 // guarded by build_mutex_
    double build_seconds = 0;          // guarded by build_mutex_
    std::atomic<double> progress{0};
    std::atomic<bool> cancel{false};
    std::thread thread;   // joined by StopBuild
    size_t replayed = 0;  // entries of `written` the build's index has taken (build thread only)
    // Encoded parameters of a build that was running when the process stopped (set by Load).
    std::optional<std::string> interrupted;
  };

  absl::Status CheckNotDropped() const;
  // RESOURCE_EXHAUSTED when the binding MFLOPs cap (`binds`: it lowered the plan's) stopped a
  // query and clamping is off; otherwise the outcome, marked clamped when it did.
  static absl::StatusOr<SearchOutcome> CheckServerCap(SearchOutcome& outcome, const MflopsCap& cap,
                                                      bool binds);
  absl::Status LoadIndexes();  // needs the exclusive hold
  IndexSlot* FindSlot(std::string_view name);
  // The slot `name`, added when missing; needs lifecycle_mutex_ (or the load's exclusive hold).
  IndexSlot* SlotFor(std::string_view name, std::string_view kind, bool table_held);
  // Starts a build StartBuilds has checked; needs lifecycle_mutex_.
  absl::StatusOr<IndexStatus> StartCheckedBuild(IndexSlot& slot, BuildRequest request,
                                                index::HeldOutRows held_out);
  void RunBuild(IndexSlot* slot, BuildRequest request, index::HeldOutRows held_out);
  // Replays into `built` (which no search sees) the writes logged since slot.replayed, in shared
  // holds of kTableRowsPerHold rows.
  absl::Status CatchUp(IndexSlot& slot, index::ServedIndex& built);
  // Measures the plans of `built` (not yet served) on the rows its build held out, which it does
  // not hold, against exact truth over the rest; then inserts those rows into it (also when the
  // measurement failed; not when cancelled).
  absl::StatusOr<index::Calibration> CalibrateHeldOut(IndexSlot& slot, index::ServedIndex& built,
                                                      const index::HeldOutRows& held_out);
  // Publishes a finished build: persists the blob, replays the writes made meanwhile, swaps it in.
  absl::Status Publish(IndexSlot& slot, std::unique_ptr<index::ServedIndex> built);
  void StopBuild(IndexSlot& slot);
  void SetBuildState(IndexSlot& slot, const std::string& state, const std::string& error);
  IndexStatus StatusLocked(const IndexSlot& slot) const;  // needs build_mutex_ and a table hold
  // The ready indexes, for the plan chooser; needs a table hold.
  std::vector<const index::ServedIndex*> ReadyLocked() const;
  // What the planner ranks calibrated plans by: latency on a tiered collection (its re-rank reads
  // dominate its time, not its FLOPs), MFLOPs otherwise (index::CostAxis).
  index::CostAxis PlannerCostAxis() const {
    return table_.tiered() ? index::CostAxis::kLatency : index::CostAxis::kMflops;
  }
  // What the planner knows of the collection now; needs a table hold.
  index::CollectionShape ShapeLocked() const {
    return {meta_.dim,    meta_.nesting_dims,     table_.size(),
            meta_.metric, table_.resident_dims(), table_.quantized()};
  }
  void RunCalibration(CalibrationRequest request);
  // Cancels and joins a running calibration; needs calibration_lifecycle_mutex_.
  void StopCalibrationLocked();
  // After a publish: when auto_calibrate is on and no build runs, the flat plans (every plan when
  // the build measured none on held-out rows).
  void CalibrateAfterBuild(bool index_measured, const IndexSlot* finished);
  // Takes the points `replaced` selects out of the stored calibration, adds `measured`'s, persists
  // it and puts its merged frontier in use.
  absl::Status FoldCalibration(const index::Calibration& measured,
                               const std::function<bool(const index::Plan&)>& replaced);
  // A drift reference from the queries a calibration used (or sampled stored vectors), persisted.
  void RecordDriftReference(std::span<const float> queries);
  // Starts an automatic calibration when growth or drift makes one due (at most one a minute;
  // never while one runs).
  void MaybeRecalibrate();
  // Has the upkeep pool run MaybeRecalibrate (one check at a time): the check copies the reservoir
  // and measures its drift, and a calibration's start joins the previous calibration's thread.
  void ScheduleRecalibrationCheck();
  std::optional<std::string> RecalibrationDue() const;
  // What a target_recall search waits for before the first calibration: the build or the
  // calibration running, its progress and (for a calibration) the time it still needs.
  std::string CalibrationProgressNote() const;
  // Loads the stored calibration blob, if any (a corrupt one is logged and ignored).
  void LoadCalibration();
  // Loads the stored default budget, if any (likewise).
  void LoadDefaultBudget();
  // A deleted row: out of every served index, logged for running builds; exclusive hold.
  void ApplyRemoveLocked(index::RowId row, uint64_t id);
  // Waits (holding write_mutex_) until `rows` more fit in the absorber's backlog under the cap, or
  // the backlog is empty; RESOURCE_EXHAUSTED after fresh_rows_wait.
  absl::Status WaitForFreshRoom(size_t rows);
  // write_mutex_, once every committed write is in the table: the caller then sees storage and
  // table agree (Delete reads the table for ids, Publish replays what was applied).
  std::unique_lock<std::mutex> LockWritersApplied();
  // The applier thread: takes committed upserts into the table in commit order, in holds of
  // kTableRowsPerHold rows.
  void ApplyLoop();
  void ApplyToTable(const UpsertBatch& batch);
  // The absorber thread: inserts fresh rows into the served indexes, kIndexRowsPerHold per hold.
  void AbsorbLoop();
  // One step of every served index's upkeep (ServedIndex::UpkeepStep) under a shared hold; true
  // while some index has more.
  bool IndexUpkeepStep();
  void WakeAbsorber();
  // Index plans: the exact scores of the fresh rows merged into `result` (index hits of ids
  // written since the index saw them dropped as stale), their cost added. Needs a table hold.
  void MergeFreshLocked(std::span<const float> query, uint32_t k, const index::Plan& plan,
                        index::SearchResult& result) const;
  void NoteHold(size_t table_rows, size_t index_rows);
  // GPU mirror (collection_gpu.cc), all under the exclusive hold: copies every live row to a new
  // device scorer; keeps it in step with writes (a failure drops the mirror: searches go on, on
  // the CPU).
  void AttachGpuLocked();
  absl::StatusOr<std::unique_ptr<index::BatchScorer>> MakeGpuScorer() const;
  // Uploads the rows' current values from the table.
  void MirrorRowsLocked(std::span<const index::RowId> rows);
  void MirrorClearLocked(std::span<const index::RowId> rows);
  // A mirror leaving the GPU: logged, on_gpu_error "dropped" (any hold).
  void ReportGpuDropped(const absl::Status& why) const;
  // Frees the mirror after a failed write (reported as above); exclusive hold.
  void DropGpuLocked(const absl::Status& why);
  // Whether the mirror can take writes; frees one a failed search marked (exclusive hold).
  bool GpuUsableLocked();
  // Memory tiers (collection_tiers.cc). INVALID_ARGUMENT naming the vector when a value does not
  // fit fp16: the rule of the GPU's fp16 storage and of an fp16 resident prefix alike.
  absl::Status CheckFitsFloat16Storage(const UpsertBatch& batch) const;
  // Installs persisted int8 parameters before the rows load (an unreadable blob is logged and the
  // parameters learned again from the data).
  absl::Status LoadInt8Params();
  // Persists the table's int8 parameters once learned (applier thread, and after Load); a failed
  // write is logged and tried again after the next apply.
  void PersistInt8ParamsIfLearned();
  // After a failed GPU search (any table hold): an out-of-memory answer sends only this search to
  // the CPU; any other error marks the mirror failed (searches go on, on the CPU; the next write
  // frees it). Returns the error a search that asked for DEVICE_GPU gets, OK for DEVICE_AUTO.
  absl::Status FallBackFromGpu(const absl::Status& gpu_error, SearchDevice device) const;
  // Whether `device` sends this resolved plan to the GPU; FAILED_PRECONDITION for kGpu when it
  // cannot. Needs a table hold.
  absl::StatusOr<bool> UseGpuLocked(SearchDevice device, const index::Plan& plan, uint32_t k) const;
  // Runs a flat plan for the whole batch on the GPU; needs a table hold.
  absl::Status SearchOnGpuLocked(const index::Plan& plan, std::span<const float> queries,
                                 uint32_t query_dims, size_t num_queries, uint32_t k,
                                 SearchOutcome& outcome) const;

  const storage::CollectionMeta meta_;
  storage::RocksStore* store_;  // not owned; outlives every collection
  const CollectionOptions options_;

  // Serialises writers' commits; the applier then takes them into the table in the same order, so
  // RocksDB order and table order agree.
  mutable std::mutex write_mutex_;
  // Set under write_mutex_ (so no commit follows it); read without it where the check orders
  // against a drop by another mutex (a calibration start: by calibration_lifecycle_mutex_, which
  // the drop takes to stop calibrations after setting it). Those reads must not wait for a commit:
  // one comes from a search thread (MaybeRecalibrate) while write_mutex_'s holder may wait
  // hundreds of milliseconds for room in the fresh rows.
  std::atomic<bool> dropped_{false};
  bool int8_params_persisted_ = false;  // the applier thread's (and Load's, before it runs)

  struct PendingApply {
    uint64_t ticket;
    UpsertBatch batch;
  };
  std::mutex apply_mutex_;
  std::condition_variable apply_wake_;  // a write to apply, room in the queue, or stop
  std::condition_variable applied_;     // applied_ticket_ moved
  std::deque<PendingApply> to_apply_;   // guarded by apply_mutex_; in ticket order
  uint64_t committed_ticket_ = 0;       // guarded by apply_mutex_
  uint64_t applied_ticket_ = 0;         // guarded by apply_mutex_
  bool apply_stop_ = false;             // guarded by apply_mutex_

  // Searches share, writers apply under exclusive hold (only after the synced commit); a waiting
  // writer goes before new searches. Threads that read beside the searches (builds, calibration,
  // the absorber, the recall check) take background() holds, which a writer waits out before it
  // holds back searches (see WriterPriorityMutex).
  mutable WriterPriorityMutex table_mutex_;
  // The table as such a thread reads it (a background() hold); every low-priority reader takes it
  // here, so that none takes a search's hold by mistake.
  std::shared_lock<WriterPriorityMutex::Background> BackgroundTableHold() const {
    return std::shared_lock(table_mutex_.background());
  }
  // The full vectors a tiered table reads above its resident prefix.
  StoredVectors stored_vectors_;
  index::VectorTable table_;
  // Rows resident on the GPU, or null (guarded by table_mutex_; the scorer serialises its calls).
  std::unique_ptr<index::BatchScorer> gpu_;
  // Set by a search (under a shared hold) whose GPU call failed: gpu_ is no longer used, and the
  // next exclusive hold frees it.
  mutable std::atomic<bool> gpu_failed_{false};

  // Held by the absorber while it prepares inserts with no table hold, and taken (before the
  // exclusive table hold) by whatever else changes or destroys a served index: a delete's Remove,
  // a publish, a drop. Never taken by searches or by the applier.
  std::mutex index_maintenance_mutex_;
  // Takes index_maintenance_mutex_ for one of those changes. If the absorber holds it, the absorber
  // is moved out of the idle class and yields it after its current row (maintenance_waiters_).
  std::unique_lock<std::mutex> LockIndexMaintenance();
  std::atomic<int> maintenance_waiters_{0};
  std::atomic<int> absorber_tid_{0};  // the absorber thread's kernel id, once it runs
  // Whether the absorber must stay out of the idle class: a writer starved of room, or a change
  // waiting for index_maintenance_mutex_.
  bool AbsorberAwaited() const { return writer_starved_.load() || maintenance_waiters_.load() > 0; }
  // A search finished within kSearchesActiveMs: background work then runs in the idle class,
  // which only yields to searches if searches come (else it waits for every other process too).
  bool SearchesComing() const;

  // Serialises StartBuild, DropIndex, MarkDropped and slot additions (never taken by a build
  // thread).
  std::mutex lifecycle_mutex_;
  // Guards the slots' states as DescribeCollection shows them.
  mutable std::mutex build_mutex_;
  // One per index name, in the order first built or loaded. Grows (never shrinks) under
  // build_mutex_ and the exclusive table hold, so either hold is enough to read it.
  std::vector<std::unique_ptr<IndexSlot>> slots_;

  // A row written to the table that the served indexes have not absorbed yet, with the id it got.
  struct FreshRow {
    index::RowId row;
    uint64_t id;
  };
  // Oldest first; an entry whose row was deleted or taken by another id since is skipped. Only
  // filled while some index is served. Guarded by table_mutex_.
  std::deque<FreshRow> fresh_;
  // Ids in fresh_, with their number of entries (an id written twice has two). Guarded by
  // table_mutex_.
  absl::flat_hash_map<uint64_t, uint32_t> fresh_ids_;
  std::atomic<size_t> fresh_count_{0};  // fresh_.size(), readable without the table lock
  std::mutex absorb_mutex_;
  std::condition_variable absorb_wake_;  // rows to absorb, a pause change, or stop
  std::condition_variable fresh_room_;   // the absorber made room
  bool absorb_stop_ = false;             // guarded by absorb_mutex_
  bool absorb_paused_ = false;           // guarded by absorb_mutex_
  // A writer has waited more than a quarter of fresh_rows_wait for room: the absorber stays out
  // of the idle class until it gets it.
  std::atomic<bool> writer_starved_{false};
  std::atomic<size_t> max_table_rows_per_hold_{0};
  std::atomic<size_t> max_index_rows_per_hold_{0};

  // Serialises calibration starts and stops (never taken by the calibration thread).
  std::mutex calibration_lifecycle_mutex_;
  std::thread calibration_thread_;
  std::atomic<bool> calibration_cancel_{false};
  // Paces an automatic calibration's steps while searches come (kAutoCalibrationCoreShare).
  DutyCycle calibration_pacing_{kAutoCalibrationCoreShare};
  std::atomic<int> calibration_thread_id_{0};  // kernel id, for MoveThreadOutOfIdleClass
  std::atomic<double> calibration_progress_{0};
  std::atomic<int64_t> calibration_started_ms_{0};  // steady clock, of the running one
  // Serialises folds (a calibration, a build's held-out measurement, a drop), which read, persist
  // and replace stored_calibration_ with calibration_mutex_ held only for the copy and the swap.
  std::mutex calibration_fold_mutex_;
  mutable std::mutex calibration_mutex_;   // guards the next five
  CalibrationStatus calibration_;          // state and the frontier in use (merged)
  index::Calibration stored_calibration_;  // per plan group, as persisted
  std::optional<index::DriftReference> drift_reference_;
  std::optional<index::Budget> default_budget_;
  std::string default_budget_encoded_;
  // Recent full-dim search queries (thread-safe), and the drift/growth check's pacing.
  QueryReservoir reservoir_;
  std::atomic<uint64_t> searches_{0};
  std::atomic<int64_t> last_auto_calibration_ms_{0};
  std::atomic<int64_t> last_search_ms_{0};  // steady clock, when ObserveSearch last ran
  std::mutex recalibration_check_mutex_;
  std::condition_variable recalibration_check_done_;
  bool recalibration_check_posted_ = false;    // guarded by recalibration_check_mutex_
  bool recalibration_checks_stopped_ = false;  // guarded by recalibration_check_mutex_

  std::thread absorber_;  // last: started once everything above exists
  std::thread applier_;
};

}  // namespace adanns::server
