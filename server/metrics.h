// Prometheus metrics of the server (prefix adanns_), exposed over HTTP by prometheus-cpp.
// Only server/ knows prometheus; handlers record through this small facade.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "index/plan.h"

namespace prometheus {
class Exposer;
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace adanns::server {

// Resident set size of this process in bytes (/proc/self/statm), 0 when unreadable.
double ProcessResidentBytes();

class Metrics {
 public:
  // Metrics recorded in memory only (no HTTP endpoint): tests, or --metrics_listen="".
  Metrics();
  ~Metrics();
  // Starts the HTTP exposer on host:port ("127.0.0.1:9464"); UNAVAILABLE when it cannot bind.
  absl::Status Serve(const std::string& listen);
  // Port actually bound by Serve (useful with port 0).
  int port() const;

  // adanns_requests_total{method, code} and adanns_request_duration_seconds{method, code}.
  void RecordRequest(const std::string& method, const std::string& code, double seconds);
  // adanns_collection_vectors{collection}.
  void SetCollectionVectors(const std::string& collection, double count);
  void RemoveCollection(const std::string& collection);

  // adanns_index_state{collection, index, state} (1 for the current state, 0 for the others),
  // adanns_index_build_progress{collection, index}, adanns_index_build_seconds{collection, index},
  // adanns_index_memory_bytes{collection, index} (left alone when memory_bytes is 0).
  void SetIndexState(const std::string& collection, const std::string& index,
                     const std::string& state, double progress, double build_seconds = 0,
                     double memory_bytes = 0);
  // adanns_search_vectors_scanned, adanns_search_mflops and adanns_search_dims{stage}
  // histograms, and the budget asked for (adanns_budget_max_mflops, adanns_budget_target_recall),
  // per query.
  void RecordSearch(const index::Plan& plan, const index::Cost& cost, const index::Budget& budget);
  // adanns_budget_limited_total{action}: a search over a server limit, "clamped" or "rejected".
  void RecordBudgetLimit(const std::string& action);
  // adanns_gpu_batch_queries, adanns_gpu_search_seconds (histograms) and adanns_gpu_memory_bytes:
  // one search request served on the GPU.
  void RecordGpuSearch(size_t queries, double seconds, double device_bytes);
  // adanns_gpu_errors_total{action}: a failed GPU call, "dropped" or "cpu_fallback".
  void RecordGpuError(const std::string& action);
  // The online recall check (RecallChecker): adanns_budget_checks_total{collection, outcome}
  // ("checked", or "skipped" when its queue was full), adanns_budget_observed_recall{collection,
  // index} (mean recall@k of that plan index's last checked searches against exact search) and
  // adanns_budget_target_misses_total{collection} (checked searches with a target_recall whose
  // recall fell below it).
  void RecordRecallCheck(const std::string& collection, const std::string& index,
                         double observed_recall, bool missed_target);
  void RecordRecallCheckSkipped(const std::string& collection);
  // adanns_ingest_vectors_total{collection} and adanns_ingest_bytes_total{collection}.
  void RecordIngest(const std::string& collection, double vectors, double bytes);
  // adanns_storage_fetches_total{collection} (full vectors read from RocksDB by a tiered
  // collection's stages above its resident prefix) and adanns_storage_fetch_seconds (one batched
  // read, histogram).
  void RecordFetch(const std::string& collection, double rows, double seconds);
  // Replication (server/replication.h), per shard copy held here:
  // adanns_replication_primary{collection, shard} (1 primary, 0 follower),
  // adanns_replication_epoch{collection, shard}, adanns_replication_in_sync{collection, shard}
  // (size of the in-sync set as this node last saw it).
  void SetReplicaState(const std::string& collection, uint32_t shard, bool primary, double epoch,
                       double in_sync);
  // On a primary, per streaming follower: adanns_replication_lag_sequences{collection, shard,
  // follower} (its WAL sequences the follower has not acknowledged yet) and
  // adanns_replication_lag_seconds{...} (the age of the oldest write it has not acknowledged; 0
  // when caught up).
  void SetReplicationLag(const std::string& collection, uint32_t shard, const std::string& follower,
                         double sequences, double seconds);
  // adanns_replication_catch_ups_total{collection, path}: a follower's stream served from the WAL
  // ("wal") or refused because the follower needs a full copy ("full_copy").
  void RecordCatchUp(const std::string& collection, const std::string& path);
  // adanns_replication_failovers_total{collection}: primaries this node's controller replaced.
  void RecordFailover(const std::string& collection);
  // A router's shard reads (server/router_reads.h): adanns_router_hedged_requests_total{outcome}
  // (a slow copy's call also sent to another copy: "hedge_won", "first_won" or "failed") and
  // adanns_router_retried_requests_total{outcome} (a copy that could not answer, asked again on
  // another: "answered" or "failed").
  void RecordRouterHedge(const std::string& outcome);
  void RecordRouterRetry(const std::string& outcome);
  // What the server's 5-second sampler reads.
  struct ResourceUsage {
    double store_bytes = 0;               // adanns_rocksdb_size_bytes
    double pending_compaction_bytes = 0;  // adanns_rocksdb_pending_compaction_bytes
    double rocksdb_memory = 0;            // adanns_rocksdb_memory_bytes
    double resident_bytes = 0;            // adanns_process_resident_bytes
    // glibc's mallinfo2: bytes handed out (uordblks + hblkhd) and bytes free inside its arenas
    // (fordblks): what resident memory holds besides live allocations.
    double malloc_in_use_bytes = 0;  // adanns_malloc_in_use_bytes
    double malloc_free_bytes = 0;    // adanns_malloc_free_bytes
    // The block cache: adanns_block_cache_usage_bytes, and adanns_block_cache_hit_ratio (hits over
    // lookups since start, all block kinds; 0 before the first lookup).
    double block_cache_usage_bytes = 0;
    double block_cache_hit_ratio = 0;
  };
  void SetResourceUsage(const ResourceUsage& usage);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Gauge>* vectors_;
  prometheus::Family<prometheus::Gauge>* index_state_;
  prometheus::Family<prometheus::Gauge>* index_progress_;
  prometheus::Family<prometheus::Gauge>* index_build_seconds_;
  prometheus::Family<prometheus::Gauge>* index_memory_;
  prometheus::Histogram* vectors_scanned_;
  prometheus::Histogram* search_mflops_;
  prometheus::Family<prometheus::Histogram>* search_dims_;
  prometheus::Histogram* budget_mflops_;
  prometheus::Histogram* budget_recall_;
  prometheus::Family<prometheus::Counter>* budget_limited_;
  prometheus::Histogram* gpu_batch_queries_;
  prometheus::Histogram* gpu_seconds_;
  prometheus::Gauge* gpu_memory_;
  prometheus::Family<prometheus::Counter>* gpu_errors_;
  prometheus::Family<prometheus::Counter>* recall_checks_;
  prometheus::Family<prometheus::Gauge>* observed_recall_;
  prometheus::Family<prometheus::Counter>* target_misses_;
  prometheus::Family<prometheus::Counter>* ingest_vectors_;
  prometheus::Family<prometheus::Counter>* ingest_bytes_;
  prometheus::Gauge* store_bytes_;
  prometheus::Gauge* pending_compaction_;
  prometheus::Gauge* rocksdb_memory_;
  prometheus::Gauge* resident_bytes_;
  prometheus::Gauge* malloc_in_use_;
  prometheus::Gauge* malloc_free_;
  prometheus::Family<prometheus::Counter>* storage_fetches_;
  prometheus::Histogram* fetch_seconds_;
  prometheus::Gauge* block_cache_usage_;
  prometheus::Gauge* block_cache_hit_ratio_;
  prometheus::Family<prometheus::Gauge>* replica_primary_;
  prometheus::Family<prometheus::Gauge>* replica_epoch_;
  prometheus::Family<prometheus::Gauge>* replica_in_sync_;
  prometheus::Family<prometheus::Gauge>* replica_lag_;
  prometheus::Family<prometheus::Gauge>* replica_lag_seconds_;
  prometheus::Family<prometheus::Counter>* router_hedges_;
  prometheus::Family<prometheus::Counter>* router_retries_;
  prometheus::Family<prometheus::Counter>* catch_ups_;
  prometheus::Family<prometheus::Counter>* failovers_;
  std::mutex mutex_;  // guards the lazily created per-label metrics below
  absl::flat_hash_map<std::string, prometheus::Histogram*> latency_by_method_;
  absl::flat_hash_map<std::string, prometheus::Gauge*> vectors_by_collection_;
};

}  // namespace adanns::server
