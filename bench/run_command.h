// `adanns-bench run`: loads a data set, sweeps the chosen methods' grids through the harness, and
// writes the JSON/CSV report, the comparison table and the recall/QPS plot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "bench/harness/runner.h"

namespace adanns::bench {

struct RunArgs {
  // Prepared folder (base.npy, queries.npy, groundtruth.npy[, info.json]) or ann-benchmarks .hdf5.
  std::string data;
  // Comma list of registered method names.
  std::string methods;
  // Report paths; the table also goes to `<json_out>.table.txt`. Empty csv/plot = not written.
  std::string json_out;
  std::string csv_out;
  std::string plot_out;
  // Queries kept from the data set (the first ones); 0 = all.
  // Default: 2000.
  size_t queries = 2000;
  // Default: 10.
  uint32_t k = 10;
  // Search threads (and OpenMP/OpenBLAS threads during searches).
  // Default: 1.
  int threads = 1;
  // Queries per SearchBatch call; 1 = one query at a time.
  // Default: 1.
  size_t batch = 1;
  // Optional grid file replacing default grids (format in bench/README.md).
  std::string grid_file;
  // Per-point time cap in seconds.
  // Default: the harness's (8).
  double max_seconds_per_point = RunOptions{}.max_seconds_per_point;
  // Runs from a tree with uncommitted changes (or outside git) instead of refusing; the JSON meta
  // then says "clean": false. Committed results come from clean runs.
  // Default: false.
  bool allow_dirty = false;
  // Measurements of every point (interleaved across methods); the report gives medians and the
  // min/max spread.
  // Default: 3.
  int repeat = 3;
  // One method at a time (built, measured, freed) instead of every method's index held at once.
  // Default: false.
  bool one_method_at_a_time = false;
  // "all" (every method's memory advised and collapsed after its build), "none", or "ours".
  // Default: all.
  std::string huge_pages = "all";
  // Query threads over disjoint slices of the queries, one query per call each (needs batch 1);
  // QPS is the aggregate.
  // Default: 1.
  int query_threads = 1;
};

// FAILED_PRECONDITION when `commit` (SourceCommit's answer) is not a clean commit and the run does
// not allow a dirty tree.
absl::Status CheckCleanTree(const std::string& commit, bool allow_dirty);

// Runs the whole command; returns the process exit code (1 after any error, though every report
// that could be written is written). Progress goes to stderr, the table to stdout.
int RunBenchCommand(const RunArgs& args);

}  // namespace adanns::bench
