// A data set as the harness runs it: base vectors, queries, exact full-dim ground truth and the
// metric, loaded from a prepared directory or an ann-benchmarks HDF5 file.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "bench/datasets/matrix.h"

namespace adanns::bench {

struct BenchData {
  std::string name;             // e.g. "fashion-mnist-pca" (from info.json or the file name)
  Metric metric = Metric::kL2;  // L2 for "euclidean", kCosine for "angular"
  FloatMatrix base;             // n x dim
  FloatMatrix queries;          // q x dim
  Int32Matrix groundtruth;      // q x gt_k base rows, nearest first (exact, full dims)
  // The file's queries after the first max_queries (at most kMaxSpareQueries), never measured:
  // test-like queries disjoint from the measured ones, for calibrations on traffic-like queries
  // (adanns-budget's reservoir source). Empty when the file holds no more.
  FloatMatrix spare_queries;
};

inline constexpr uint64_t kMaxSpareQueries = 5000;

// PATH is a prepared directory (base.npy, queries.npy, groundtruth.npy[, info.json]) or an
// ann-benchmarks .hdf5 file (train, test, neighbors; attribute distance = euclidean | angular).
// Keeps the first `max_queries` queries (0 = all), and up to kMaxSpareQueries after them as
// spare_queries.
absl::StatusOr<BenchData> LoadBenchData(const std::string& path, size_t max_queries);

}  // namespace adanns::bench
