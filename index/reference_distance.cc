#include "index/reference_distance.h"

#include <cmath>
#include <limits>

namespace adanns::index {
double ReferenceDistance(const float* query, const float* row, size_t dim, Metric metric) {
  double dot = 0, query_norm = 0, row_norm = 0, squared = 0;
  for (size_t j = 0; j < dim; ++j) {
    const double q = query[j], x = row[j];
    dot += q * x;
    query_norm += q * q;
    row_norm += x * x;
    squared += (q - x) * (q - x);
  }
  switch (metric) {
    case Metric::kL2:
      return std::sqrt(squared);
    case Metric::kInnerProduct:
      return -dot;
    case Metric::kCosine:
      return query_norm > 0 && row_norm > 0 ? 1.0 - dot / std::sqrt(query_norm * row_norm) : 1.0;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

bool IsTwin(const float* query, const float* row, size_t dim) {
  double query_norm = 0, squared = 0;
  for (size_t j = 0; j < dim; ++j) {
    const double q = query[j], x = row[j];
    query_norm += q * q;
    squared += (q - x) * (q - x);
  }
  return squared <= kTwinRelativeSquaredDifference * query_norm;
}

}  // namespace adanns::index
