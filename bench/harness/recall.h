// Per-query accuracy and latency statistics of one search point: recall@k against the exact
// ground truth (as ann-benchmarks computes it, and by ids), and latency percentiles.
#pragma once

#include <cstdint>
#include <vector>

#include "base/metric.h"
#include "bench/datasets/matrix.h"
#include "index/reference_distance.h"

namespace adanns::bench {

// ann-benchmarks' tolerance on the k-th true distance (the calibration's tie rule uses it too).
inline constexpr double kRecallEpsilon = index::kTieEpsilon;

// Id-recall: |returned top-k ∩ truth top-k| / k. `returned` holds k ids, best first, -1 for
// padding; an id returned twice counts once. `truth` holds at least k ids.
double RecallAtK(const int64_t* returned, const int32_t* truth, uint32_t k);

// Distance between a query and a base vector in ann-benchmarks' units: Euclidean (not squared)
// for L2, 1 - cosine similarity for cosine, the negated inner product for inner product.
inline double TrueDistance(const float* query, const float* row, size_t dim, Metric metric) {
  return index::ReferenceDistance(query, row, dim, metric);
}

// recall@k as ann-benchmarks computes it: a returned row counts when its true distance to the
// query is at most the k-th true distance (of truth[k - 1]) plus `epsilon`, so a tied duplicate
// of a true neighbour is not a miss. Distinct returned rows only; padding (-1) never counts.
double DistanceRecallAtK(const int64_t* returned, const int32_t* truth, uint32_t k,
                         const float* query, const FloatMatrix& base, Metric metric,
                         double epsilon = kRecallEpsilon);

// The p-quantile (0 <= p <= 1) of `values` by the nearest-rank rule; NaN when empty.
double Percentile(std::vector<double> values, double p);

}  // namespace adanns::bench
