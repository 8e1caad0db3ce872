// Exact L2 nearest neighbours of queries among base vectors: FAISS's BLAS search proposes a
// shortlist, which is re-scored in double precision so the order does not depend on float rounding.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "bench/datasets/matrix.h"

namespace adanns::bench {

struct GroundTruth {
  Int32Matrix neighbors;  // queries x k base row indices, nearest first, ties by lower index
  Matrix<double> squared_distances;  // queries x k, matching `neighbors`
  // Queries whose shortlist could have missed a neighbour and were scanned exactly in full.
  uint64_t full_rescans = 0;
};

// Top-`k` by squared L2 over all of `base` for every row of `queries` (same cols); `base` is
// searched in place, never copied. On unit vectors this is also the cosine ground truth
// (|a - b|^2 = 2 - 2 cos). Uses the OpenMP / BLAS thread counts in force. INVALID_ARGUMENT on shape
// errors, INTERNAL if FAISS throws.
absl::StatusOr<GroundTruth> ExactL2GroundTruth(const FloatMatrix& base, const FloatMatrix& queries,
                                               uint32_t k);

}  // namespace adanns::bench
