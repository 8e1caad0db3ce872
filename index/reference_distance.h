// Distances as ann-benchmarks reports them, in double precision: the units recall's tie rule is
// stated in, shared by the bench's recall and the calibration's, so both count the same hits.
#pragma once

#include <cstddef>

#include "base/metric.h"

namespace adanns::index {

// ann-benchmarks' tolerance on the k-th true distance: a hit within it of the k-th true
// neighbour's distance counts, so a tied duplicate of a true neighbour is not a miss.
inline constexpr double kTieEpsilon = 1e-3;

// Euclidean (not squared) for L2, 1 - cosine similarity for cosine, the negated inner product for
// inner product.
double ReferenceDistance(const float* query, const float* row, size_t dim, Metric metric);

// The relative squared difference under which a stored row is a twin of a query (1% of its norm).
inline constexpr double kTwinRelativeSquaredDifference = 1e-4;

// Whether `row` is a stored twin of `query`: equal up to kTwinRelativeSquaredDifference, as exact
// duplicates and copies with rounding noise are.
bool IsTwin(const float* query, const float* row, size_t dim);

}  // namespace adanns::index
