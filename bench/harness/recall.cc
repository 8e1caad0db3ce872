#include "bench/harness/recall.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace adanns::bench {

double RecallAtK(const int64_t* returned, const int32_t* truth, uint32_t k) {
  if (k == 0) return 0;
  std::vector<int64_t> found(returned, returned + k);
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  uint32_t hits = 0;
  for (uint32_t i = 0; i < k; ++i) {
    // Ground truth ids are distinct; padding (-1) never matches a real row.
    hits += std::binary_search(found.begin(), found.end(), static_cast<int64_t>(truth[i])) ? 1 : 0;
  }
  return static_cast<double>(hits) / k;
}

double DistanceRecallAtK(const int64_t* returned, const int32_t* truth, uint32_t k,
                         const float* query, const FloatMatrix& base, Metric metric,
                         double epsilon) {
  if (k == 0) return 0;
  const size_t dim = base.cols;
  const double threshold = TrueDistance(query, base.row(truth[k - 1]), dim, metric) + epsilon;
  std::vector<int64_t> found(returned, returned + k);
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  uint32_t hits = 0;
  for (const int64_t row : found) {
    if (row < 0 || static_cast<uint64_t>(row) >= base.rows) continue;
    hits += TrueDistance(query, base.row(row), dim, metric) <= threshold ? 1 : 0;
  }
  return static_cast<double>(hits) / k;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 1.0) * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

}  // namespace adanns::bench
