// Benchmark reports: the JSON document of BENCHMARKING.md ({"meta", "points"}), one CSV row per
// point, and the comparison table (best QPS at recall >= r, ratios to every baseline).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/harness/runner.h"

namespace adanns::bench {

// The "meta" object: what ran, where, and how.
struct RunMeta {
  std::string dataset;
  std::string metric;  // "l2", "cosine", ...
  uint64_t n = 0;
  uint64_t dim = 0;
  uint64_t queries = 0;  // loaded; a capped point records its own count
  uint32_t k = 10;
  std::string cpu;
  std::vector<std::string> cpu_flags;
  std::string commit;
  bool clean = false;  // commit names a tree without uncommitted changes
  int threads = 1;
  int query_threads = 1;
  size_t batch = 1;
  std::string device = "cpu";
  double max_seconds_per_point = 0;
  std::string huge_pages = "all";      // --huge-pages policy
  std::string thp_mode;                // the kernel's THP mode
  uint64_t anon_huge_pages_bytes = 0;  // the process's AnonHugePages at the end of the run
  uint64_t peak_rss_bytes = 0;         // the process's peak resident set at the end of the run
  int repeat = 1;                      // measurements per point
  bool interleaved_methods = true;     // repetitions interleaved across methods
};

// The whole JSON document, one point per line inside "points".
std::string ReportJson(const RunMeta& meta, const std::vector<PointResult>& points);

// A header row and one row per point; "params" is one "key=value ..." field.
std::string ReportCsv(const std::vector<PointResult>& points);

// Baselines are the methods named faiss-* and hnswlib.
bool IsBaseline(const std::string& method);

// Method names in order of first appearance.
std::vector<std::string> MethodOrder(const std::vector<PointResult>& points);

// For each recall level: every method's best measured QPS with recall >= r and its ratio to each
// baseline's QPS interpolated on that baseline's Pareto frontier (see bench/README.md).
std::string ComparisonTable(const RunMeta& meta, const std::vector<PointResult>& points,
                            const std::vector<double>& recalls = {0.90, 0.95, 0.99});

// Writes (replaces) a file; INTERNAL with the path when that fails.
absl::Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace adanns::bench
