// Metrics: families are registered once; labelled children are created on first use.
#include "server/metrics.h"

#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

// civetweb (under prometheus-cpp's Exposer) runs its workers on 100 KiB stacks, and glibc carves a
// thread's static TLS out of its stack: the statically linked CUDA runtime's page-aligned TLS
// block leaves a worker too little and it overflows on its first request. This definition
// interposes glibc's for the libraries loaded with the server, so every explicitly sized thread
// stack gets at least 512 KiB.
extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) {
  using Setter = int (*)(pthread_attr_t*, size_t);
  static const auto glibc_setter =
      reinterpret_cast<Setter>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  constexpr size_t kMinStackBytes = size_t{512} << 10;
  return glibc_setter(attr, std::max(size, kMinStackBytes));
}

namespace adanns::server {
namespace {

prometheus::Histogram::BucketBoundaries ExponentialBuckets(double first, double factor, int count) {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = first; count-- > 0; b *= factor) buckets.push_back(b);
  return buckets;
}

constexpr const char* kIndexStates[] = {"building", "ready", "failed", "cancelled", "dropped"};

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(&prometheus::BuildCounter()
                     .Name("adanns_requests_total")
                     .Help("RPCs handled, by method and gRPC status code")
                     .Register(*registry_)),
      latency_(&prometheus::BuildHistogram()
                    .Name("adanns_request_duration_seconds")
                    .Help("RPC latency in seconds, by method")
                    .Register(*registry_)),
      vectors_(&prometheus::BuildGauge()
                    .Name("adanns_collection_vectors")
                    .Help("Live vectors per collection")
                    .Register(*registry_)),
      index_state_(&prometheus::BuildGauge()
                        .Name("adanns_index_state")
                        .Help("1 for an index's current state (building, ready, failed, "
                              "cancelled, dropped), 0 for the others")
                        .Register(*registry_)),
      index_progress_(&prometheus::BuildGauge()
                           .Name("adanns_index_build_progress")
                           .Help("Progress of the last build of an index, 0..1")
                           .Register(*registry_)),
      index_build_seconds_(&prometheus::BuildGauge()
                                .Name("adanns_index_build_seconds")
                                .Help("Wall time of the last finished build of an index")
                                .Register(*registry_)),
      index_memory_(&prometheus::BuildGauge()
                         .Name("adanns_index_memory_bytes")
                         .Help("Bytes an index holds beyond the vectors (codes, lists, links)")
                         .Register(*registry_)),
      vectors_scanned_(&prometheus::BuildHistogram()
                            .Name("adanns_search_vectors_scanned")
                            .Help("Vectors scored by the first stage, per query")
                            .Register(*registry_)
                            .Add({}, ExponentialBuckets(16, 4, 12))),
      search_mflops_(&prometheus::BuildHistogram()
                          .Name("adanns_search_mflops")
                          .Help("MFLOPs spent per query (cost model)")
                          .Register(*registry_)
                          .Add({}, ExponentialBuckets(0.01, 2, 20))),
      search_dims_(&prometheus::BuildHistogram()
                        .Name("adanns_search_dims")
                        .Help("Prefix length used per query, by stage (coarse, search, rerank)")
                        .Register(*registry_)),
      budget_mflops_(&prometheus::BuildHistogram()
                          .Name("adanns_budget_max_mflops")
                          .Help("budget.max_mflops asked for, per query")
                          .Register(*registry_)
                          .Add({}, ExponentialBuckets(0.01, 2, 20))),
      budget_recall_(
          &prometheus::BuildHistogram()
               .Name("adanns_budget_target_recall")
               .Help("budget.target_recall asked for, per query")
               .Register(*registry_)
               .Add({}, prometheus::Histogram::BucketBoundaries{0.5, 0.7, 0.8, 0.85, 0.9, 0.95,
                                                                0.98, 0.99, 0.999})),
      budget_limited_(&prometheus::BuildCounter()
                           .Name("adanns_budget_limited_total")
                           .Help("Search requests over a server limit (--max_query_mflops, "
                                 "--max_k, --max_rerank_candidates), by action: clamped or "
                                 "rejected")
                           .Register(*registry_)),
      gpu_batch_queries_(&prometheus::BuildHistogram()
                              .Name("adanns_gpu_batch_queries")
                              .Help("Queries per search request served on the GPU")
                              .Register(*registry_)
                              .Add({}, ExponentialBuckets(1, 4, 8))),
      gpu_seconds_(&prometheus::BuildHistogram()
                        .Name("adanns_gpu_search_seconds")
                        .Help("Wall time of the GPU calls of one search request")
                        .Register(*registry_)
                        .Add({}, ExponentialBuckets(0.0001, 4, 10))),
      gpu_memory_(&prometheus::BuildGauge()
                       .Name("adanns_gpu_memory_bytes")
                       .Help("Device bytes the last GPU-served collection's scorer holds")
                       .Register(*registry_)
                       .Add({})),
      gpu_errors_(&prometheus::BuildCounter()
                       .Name("adanns_gpu_errors_total")
                       .Help("Failed GPU calls, by action: dropped (the collection left the GPU "
                             "and searches on the CPU) or cpu_fallback (one search ran on the "
                             "CPU, e.g. out of device memory)")
                       .Register(*registry_)),
      recall_checks_(&prometheus::BuildCounter()
                          .Name("adanns_budget_checks_total")
                          .Help("Live searches sampled for the online recall check, by outcome: "
                                "checked (re-run exactly) or skipped (the check queue was full)")
                          .Register(*registry_)),
      observed_recall_(&prometheus::BuildGauge()
                            .Name("adanns_budget_observed_recall")
                            .Help("Mean recall@k against exact search of the last checked live "
                                  "searches, per collection and plan index")
                            .Register(*registry_)),
      target_misses_(&prometheus::BuildCounter()
                          .Name("adanns_budget_target_misses_total")
                          .Help("Checked live searches with a target_recall whose recall@k fell "
                                "below it")
                          .Register(*registry_)),
      ingest_vectors_(&prometheus::BuildCounter()
                           .Name("adanns_ingest_vectors_total")
                           .Help("Vectors committed by Upsert, per collection")
                           .Register(*registry_)),
      ingest_bytes_(&prometheus::BuildCounter()
                         .Name("adanns_ingest_bytes_total")
                         .Help("Bytes of vector values committed by Upsert, per collection")
                         .Register(*registry_)),
      store_bytes_(&prometheus::BuildGauge()
                        .Name("adanns_rocksdb_size_bytes")
                        .Help("Bytes of the RocksDB store: SST files plus memtables")
                        .Register(*registry_)
                        .Add({})),
      pending_compaction_(&prometheus::BuildGauge()
                               .Name("adanns_rocksdb_pending_compaction_bytes")
                               .Help("Bytes RocksDB estimates compaction still has to rewrite")
                               .Register(*registry_)
                               .Add({})),
      rocksdb_memory_(&prometheus::BuildGauge()
                           .Name("adanns_rocksdb_memory_bytes")
                           .Help("Memory RocksDB reports: memtables, table readers, block cache")
                           .Register(*registry_)
                           .Add({})),
      resident_bytes_(&prometheus::BuildGauge()
                           .Name("adanns_process_resident_bytes")
                           .Help("Resident memory of the server process")
                           .Register(*registry_)
                           .Add({})),
      malloc_in_use_(&prometheus::BuildGauge()
                          .Name("adanns_malloc_in_use_bytes")
                          .Help("Bytes the allocator has handed out (glibc mallinfo2)")
                          .Register(*registry_)
                          .Add({})),
      malloc_free_(&prometheus::BuildGauge()
                        .Name("adanns_malloc_free_bytes")
                        .Help("Bytes free inside the allocator's arenas, kept for reuse")
                        .Register(*registry_)
                        .Add({})),
      storage_fetches_(&prometheus::BuildCounter()
                            .Name("adanns_storage_fetches_total")
                            .Help("Full vectors read from RocksDB by searches, per collection")
                            .Register(*registry_)),
      // One batched read: a re-rank's candidates (tens to thousands of rows).
      fetch_seconds_(
          &prometheus::BuildHistogram()
               .Name("adanns_storage_fetch_seconds")
               .Help("Wall time of one batched read of full vectors from RocksDB")
               .Register(*registry_)
               .Add({}, prometheus::Histogram::BucketBoundaries{1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3,
                                                                1e-2, 3e-2, 0.1, 0.3, 1})),
      block_cache_usage_(&prometheus::BuildGauge()
                              .Name("adanns_block_cache_usage_bytes")
                              .Help("Bytes charged to RocksDB's block cache")
                              .Register(*registry_)
                              .Add({})),
      block_cache_hit_ratio_(&prometheus::BuildGauge()
                                  .Name("adanns_block_cache_hit_ratio")
                                  .Help("Block cache hits over lookups since the server started")
                                  .Register(*registry_)
                                  .Add({})),
      replica_primary_(&prometheus::BuildGauge()
                            .Name("adanns_replication_primary")
                            .Help("1 where this node is the shard's primary, 0 a follower")
                            .Register(*registry_)),
      replica_epoch_(&prometheus::BuildGauge()
                          .Name("adanns_replication_epoch")
                          .Help("Epoch of the shard's state record as this node last saw it")
                          .Register(*registry_)),
      replica_in_sync_(&prometheus::BuildGauge()
                            .Name("adanns_replication_in_sync")
                            .Help("Members of the shard's in-sync set")
                            .Register(*registry_)),
      replica_lag_(&prometheus::BuildGauge()
                        .Name("adanns_replication_lag_sequences")
                        .Help("Primary WAL sequences a follower has not acknowledged")
                        .Register(*registry_)),
      replica_lag_seconds_(
          &prometheus::BuildGauge()
               .Name("adanns_replication_lag_seconds")
               .Help("Age of the oldest write a follower has not acknowledged (0: caught up)")
               .Register(*registry_)),
      router_hedges_(&prometheus::BuildCounter()
                          .Name("adanns_router_hedged_requests_total")
                          .Help("Router shard calls also sent to another copy after the shard's "
                                "latency percentile, by which answered")
                          .Register(*registry_)),
      router_retries_(&prometheus::BuildCounter()
                           .Name("adanns_router_retried_requests_total")
                           .Help("Router shard calls retried on another copy after a failure")
                           .Register(*registry_)),
      catch_ups_(&prometheus::BuildCounter()
                      .Name("adanns_replication_catch_ups_total")
                      .Help("Follower streams by catch-up path: wal or full_copy (needed)")
                      .Register(*registry_)),
      failovers_(&prometheus::BuildCounter()
                      .Name("adanns_replication_failovers_total")
                      .Help("Shard primaries replaced by this node's failover controller")
                      .Register(*registry_)) {}

void Metrics::SetReplicaState(const std::string& collection, uint32_t shard, bool primary,
                              double epoch, double in_sync) {
  const std::map<std::string, std::string> labels = {{"collection", collection},
                                                     {"shard", std::to_string(shard)}};
  std::lock_guard lock(mutex_);
  replica_primary_->Add(labels).Set(primary ? 1 : 0);
  replica_epoch_->Add(labels).Set(epoch);
  replica_in_sync_->Add(labels).Set(in_sync);
}

void Metrics::SetReplicationLag(const std::string& collection, uint32_t shard,
                                const std::string& follower, double sequences, double seconds) {
  const std::map<std::string, std::string> labels = {
      {"collection", collection}, {"shard", std::to_string(shard)}, {"follower", follower}};
  std::lock_guard lock(mutex_);
  replica_lag_->Add(labels).Set(sequences);
  replica_lag_seconds_->Add(labels).Set(seconds);
}

void Metrics::RecordRouterHedge(const std::string& outcome) {
  std::lock_guard lock(mutex_);
  router_hedges_->Add({{"outcome", outcome}}).Increment();
}

void Metrics::RecordRouterRetry(const std::string& outcome) {
  std::lock_guard lock(mutex_);
  router_retries_->Add({{"outcome", outcome}}).Increment();
}

void Metrics::RecordCatchUp(const std::string& collection, const std::string& path) {
  std::lock_guard lock(mutex_);
  catch_ups_->Add({{"collection", collection}, {"path", path}}).Increment();
}

void Metrics::RecordFailover(const std::string& collection) {
  std::lock_guard lock(mutex_);
  failovers_->Add({{"collection", collection}}).Increment();
}

void Metrics::RecordFetch(const std::string& collection, double rows, double seconds) {
  std::lock_guard lock(mutex_);
  storage_fetches_->Add({{"collection", collection}}).Increment(rows);
  fetch_seconds_->Observe(seconds);
}

void Metrics::RecordRecallCheck(const std::string& collection, const std::string& index,
                                double observed_recall, bool missed_target) {
  std::lock_guard lock(mutex_);
  recall_checks_->Add({{"collection", collection}, {"outcome", "checked"}}).Increment();
  observed_recall_->Add({{"collection", collection}, {"index", index}}).Set(observed_recall);
  auto& misses = target_misses_->Add({{"collection", collection}});
  if (missed_target) misses.Increment();
}

void Metrics::RecordRecallCheckSkipped(const std::string& collection) {
  std::lock_guard lock(mutex_);
  recall_checks_->Add({{"collection", collection}, {"outcome", "skipped"}}).Increment();
}

void Metrics::RecordIngest(const std::string& collection, double vectors, double bytes) {
  std::lock_guard lock(mutex_);
  ingest_vectors_->Add({{"collection", collection}}).Increment(vectors);
  ingest_bytes_->Add({{"collection", collection}}).Increment(bytes);
}

void Metrics::SetResourceUsage(const ResourceUsage& usage) {
  store_bytes_->Set(usage.store_bytes);
  pending_compaction_->Set(usage.pending_compaction_bytes);
  rocksdb_memory_->Set(usage.rocksdb_memory);
  resident_bytes_->Set(usage.resident_bytes);
  malloc_in_use_->Set(usage.malloc_in_use_bytes);
  malloc_free_->Set(usage.malloc_free_bytes);
  block_cache_usage_->Set(usage.block_cache_usage_bytes);
  block_cache_hit_ratio_->Set(usage.block_cache_hit_ratio);
}

Metrics::~Metrics() = default;

double ProcessResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return static_cast<double>(resident_pages) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

absl::Status Metrics::Serve(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

int Metrics::port() const {
  if (!exposer_) return 0;
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::RecordRequest(const std::string& method, const std::string& code, double seconds) {
  std::lock_guard lock(mutex_);
  requests_->Add({{"method", method}, {"code", code}}).Increment();
  auto [it, inserted] = latency_by_method_.try_emplace(absl::StrCat(method, "/", code), nullptr);
  if (inserted) {
    // 50 µs .. ~6.5 s, doubling.
    it->second =
        &latency_->Add({{"method", method}, {"code", code}}, ExponentialBuckets(50e-6, 2, 18));
  }
  it->second->Observe(seconds);
}

void Metrics::SetCollectionVectors(const std::string& collection, double count) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = vectors_by_collection_.try_emplace(collection, nullptr);
  if (inserted) it->second = &vectors_->Add({{"collection", collection}});
  it->second->Set(count);
}

void Metrics::RemoveCollection(const std::string& collection) {
  std::lock_guard lock(mutex_);
  auto it = vectors_by_collection_.find(collection);
  if (it == vectors_by_collection_.end()) return;
  vectors_->Remove(it->second);
  vectors_by_collection_.erase(it);
}

void Metrics::SetIndexState(const std::string& collection, const std::string& index,
                            const std::string& state, double progress, double build_seconds,
                            double memory_bytes) {
  std::lock_guard lock(mutex_);
  for (const char* known : kIndexStates) {
    index_state_->Add({{"collection", collection}, {"index", index}, {"state", known}})
        .Set(state == known ? 1 : 0);
  }
  index_progress_->Add({{"collection", collection}, {"index", index}}).Set(progress);
  if (build_seconds > 0) {
    index_build_seconds_->Add({{"collection", collection}, {"index", index}}).Set(build_seconds);
  }
  if (memory_bytes > 0) {
    index_memory_->Add({{"collection", collection}, {"index", index}}).Set(memory_bytes);
  }
}

void Metrics::RecordBudgetLimit(const std::string& action) {
  std::lock_guard lock(mutex_);
  budget_limited_->Add({{"action", action}}).Increment();
}

void Metrics::RecordGpuError(const std::string& action) {
  std::lock_guard lock(mutex_);
  gpu_errors_->Add({{"action", action}}).Increment();
}

void Metrics::RecordGpuSearch(size_t queries, double seconds, double device_bytes) {
  std::lock_guard lock(mutex_);
  gpu_batch_queries_->Observe(static_cast<double>(queries));
  gpu_seconds_->Observe(seconds);
  gpu_memory_->Set(device_bytes);
}

void Metrics::RecordSearch(const index::Plan& plan, const index::Cost& cost,
                           const index::Budget& budget) {
  std::lock_guard lock(mutex_);
  if (budget.max_mflops) budget_mflops_->Observe(*budget.max_mflops);
  if (budget.target_recall) budget_recall_->Observe(*budget.target_recall);
  vectors_scanned_->Observe(static_cast<double>(cost.vectors_scanned));
  search_mflops_->Observe(cost.mflops);
  const auto dims_buckets = ExponentialBuckets(4, 2, 11);  // 4 .. 4096
  auto observe = [&](const char* stage, const std::optional<uint32_t>& dims) {
    if (dims) search_dims_->Add({{"stage", stage}}, dims_buckets).Observe(*dims);
  };
  observe("coarse", plan.coarse_dims);
  observe("search", plan.search_dims);
  observe("rerank", plan.rerank_dims);
}

}  // namespace adanns::server
