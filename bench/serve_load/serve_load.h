// adanns-serve-load: end-to-end load against a running adanns server on loopback (ingest, Search at
// batch 1 under several concurrencies, SearchBatch) compared with the same plan run in-process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace adanns::bench {

struct ServeLoadOptions {
  std::string server;                         // HOST:PORT, loopback only
  std::string data_dir;                       // prepared data set folder
  std::string collection = "serve_load";      // collection to (re)create and search
  uint32_t queries = 1000;                    // queries used (capped by queries.npy)
  uint32_t k = 10;                            // hits per query
  std::vector<int> concurrency = {1, 2, 4};   // client threads per measurement
  double seconds = 10;                        // duration of each measurement
  uint32_t batch = 100;                       // queries per SearchBatch request
  std::optional<uint32_t> search_dims;        // plan: scan prefix
  std::optional<uint32_t> rerank_candidates;  // plan: re-rank candidates (turns re-rank on)
  std::string index = "flat";                 // plan: "flat", "ivf" or "" (automatic)
  std::optional<uint32_t> nprobe;             // plan: IVF lists probed
  bool skip_ingest = false;                   // search an existing collection as it is
  std::string json_path;                      // write the report as JSON here when set
  // Index built after the ingest: "ivf", "default" (BuildIndex naming only the collection: the
  // server's default index), or "" (the IVF when index is "ivf", else none).
  std::string build;
  // Mixed load (0 = skipped): for this many seconds, search_threads clients search with the
  // collection's automatic plan, first alone, then while one client streams upserts of
  // mixed_message vectors (base rows re-upserted under new ids) as fast as the server takes them.
  double mixed_seconds = 0;
  int mixed_search_threads = 2;
  uint32_t mixed_message = 1000;
  // A folder on the server's disk: `dd ... bs=1M count=1024 conv=fdatasync` there measures the
  // disk's synced write bandwidth in the same run (the ingest's yardstick). Empty = skipped.
  std::string dd_dir;
};

// Latency distribution and throughput of one timed loop.
struct LoadPoint {
  int concurrency = 1;
  uint64_t requests = 0;  // RPCs (or in-process searches) completed
  uint64_t queries = 0;   // queries answered (requests x batch for SearchBatch)
  double seconds = 0;
  double qps = 0;     // queries per second
  double p50_us = 0;  // per request
  double p99_us = 0;
  double max_us = 0;  // the slowest request
};

// The mixed load: searches alone, then under a stream of upserts.
struct MixedLoad {
  LoadPoint idle;          // searches alone
  LoadPoint under_writes;  // the same searches while the writer streams
  uint64_t upserted = 0;   // vectors the writer had acknowledged
  double upsert_seconds = 0;
  double upsert_vectors_per_s = 0;
  double upsert_mb_per_s = 0;  // vector bytes (4 x dim per vector)
  double message_p50_ms = 0;   // one message's acknowledgement
  double message_p99_ms = 0;
  uint64_t refused_messages = 0;  // RESOURCE_EXHAUSTED (the indexes' backlog), retried
};

struct ServeLoadReport {
  std::string dataset;
  uint64_t base_rows = 0;
  uint32_t dim = 0;
  uint32_t queries = 0;
  std::string resolved_plan;  // the plan the server ran, in words
  // Ingest (absent with --skip-ingest).
  std::optional<double> ingest_seconds;
  std::optional<double> ingest_vectors_per_s;
  std::optional<double> index_build_seconds;
  double recall = 0;
  std::vector<LoadPoint> search;             // batch 1, one per concurrency
  std::vector<LoadPoint> search_batch;       // --batch queries per request, one per concurrency
  std::optional<LoadPoint> in_process;       // same plan, one thread, no gRPC
  std::string in_process_note;               // why the baseline is missing, or what it is
  std::optional<double> ingest_mb_per_s;     // vector bytes ingested per second
  std::optional<double> disk_sync_mb_per_s;  // dd's synced write bandwidth (--dd-dir)
  std::optional<MixedLoad> mixed;
};

// Runs the whole load test; progress goes to stderr.
absl::StatusOr<ServeLoadReport> RunServeLoad(const ServeLoadOptions& options);

// Human-readable table of `report`.
std::string FormatReport(const ServeLoadOptions& options, const ServeLoadReport& report);

// One JSON object with the options and every number of `report`.
std::string ReportJson(const ServeLoadOptions& options, const ServeLoadReport& report);

}  // namespace adanns::bench
