// Runs methods over a data set: every build of each method's grid, every search point of it, and
// measures recall@k, QPS, latency percentiles and work per query for each (method, params) point.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "bench/harness/bench_data.h"
#include "bench/harness/memory_policy.h"
#include "bench/harness/method.h"

namespace adanns::bench {

struct RunOptions {
  // Neighbours per query; must not exceed the ground truth's columns.
  // Default: 10.
  uint32_t k = 10;
  // Search threads: 1 with batch 1 is the single-thread mode (queries one at a time, OpenMP and
  // OpenBLAS pinned to 1); otherwise SearchBatch over `threads` threads.
  // Default: 1.
  int threads = 1;
  // Queries per SearchBatch call; 1 = one Search call per query.
  // Default: 1.
  size_t batch = 1;
  // Query threads, each running a disjoint contiguous slice of the queries one Search call at a
  // time (batch 1); QPS is the aggregate over the point's wall time. 1 = the single-thread mode.
  // Default: 1.
  int query_threads = 1;
  // A point stops after the first whole queries (or batches) that reach this many seconds.
  // Default: 15.
  double max_seconds_per_point = 8;
  // Queries searched before timing starts (caches, page faults), not counted.
  // Default: 5.
  size_t warmup_queries = 5;
  // Threads for builds and for FAISS/OpenBLAS during them; 0 = every core.
  // Default: 0.
  int build_threads = 0;
  // Times every point is measured; a point reports the median and the spread (min, max).
  // Default: 1 (adanns-bench run's --repeat defaults to 3).
  int repeat = 1;
  // Repetitions interleave across every method (A's point 1, B's point 1, ..., then again), all
  // methods' indexes built first and held together; false: one method at a time (built,
  // measured `repeat` times with its own points interleaved, freed), for data sets too large to
  // hold every method's index at once.
  // Default: true.
  bool interleave_methods = true;
  // Transparent huge pages for every method (advised and collapsed after each build), none, or
  // only ours (the old asymmetric mode).
  // Default: kAll.
  HugePagePolicy huge_pages = HugePagePolicy::kAll;
};

// Recall, latency and work of one search point of a built index (parameters already applied).
struct PointMeasurement {
  size_t queries = 0;    // queries actually run (the time cap may stop short)
  double recall = 0;     // ann-benchmarks' (distance within the k-th true distance + 1e-3)
  double id_recall = 0;  // |returned ∩ true top-k| / k
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
  double mflops_per_query = 0;
  double vectors_scanned_per_query = 0;
  double vectors_fetched_per_query = 0;
  // Block cache hits over lookups during the measured queries; NaN for methods without one.
  double block_cache_hit_ratio = NAN;
  // With repeats, the fields above are medians and these the spread; one run: min = max = value.
  int repeats = 1;
  double qps_min = 0, qps_max = 0;
  double p50_us_min = 0, p50_us_max = 0;
  double p99_us_min = 0, p99_us_max = 0;
};

// The medians of repeated measurements of one point, with the spread of QPS and latencies.
PointMeasurement MedianOf(const std::vector<PointMeasurement>& runs);

// One measured (method, build params, search params) point.
struct PointResult : PointMeasurement {
  std::string method;
  Params params;     // build keys, then search keys (they must not collide)
  BuildStats build;  // build.bytes_per_vector["total"] holds the sum of the components
  // The plan every query of the point ran (BuiltIndex::PointPlan; empty for the baselines), and
  // the search params of later points of the same build that named the same plan: measured
  // once, reported once, here.
  std::string plan;
  std::vector<Params> same_plan;
};

// Runs data.queries in order through `index` as RunOptions describes and scores them.
PointMeasurement MeasurePoint(const BuiltIndex& index, const BenchData& data,
                              const RunOptions& options);

struct MethodRun {
  const Method* method = nullptr;
  Grid grid;
};

struct RunResult {
  std::vector<PointResult> points;
  std::vector<std::string> errors;  // failed builds or search points; the sweep goes on
};

// Sweeps every method's grid. Progress (one line per build and per point) goes to `progress`
// (may be null).
RunResult RunMethods(const BenchData& data, const std::vector<MethodRun>& runs,
                     const RunOptions& options, std::FILE* progress);

}  // namespace adanns::bench
