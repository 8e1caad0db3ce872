#include "bench/datasets/angular.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/datasets/ground_truth.h"

namespace adanns::bench {

void NormalizeRows(FloatMatrix& vectors) {
  const uint64_t dim = vectors.cols;
#pragma omp parallel for schedule(static)
  for (uint64_t i = 0; i < vectors.rows; ++i) {
    float* row = vectors.values.data() + i * dim;
    double norm = 0;
    for (uint64_t j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
    if (norm <= 0) continue;
    const double scale = 1.0 / std::sqrt(norm);
    for (uint64_t j = 0; j < dim; ++j) row[j] = static_cast<float>(row[j] * scale);
  }
}

absl::StatusOr<PreparedDataset> ToAngular(PreparedDataset dataset, uint32_t gt_k,
                                          uint64_t* full_rescans) {
  NormalizeRows(dataset.base);
  NormalizeRows(dataset.queries);
  ASSIGN_OR_RETURN(GroundTruth truth, ExactL2GroundTruth(dataset.base, dataset.queries, gt_k));
  dataset.groundtruth = std::move(truth.neighbors);
  if (full_rescans != nullptr) *full_rescans = truth.full_rescans;
  dataset.name = absl::StrCat(dataset.name, "-angular");
  dataset.distance = "angular";
  dataset.transform =
      absl::StrCat(dataset.transform,
                   "; then every row scaled to unit L2 norm (cosine = dot product); "
                   "ground truth: exact cosine top-k on the unit vectors");
  return dataset;
}

}  // namespace adanns::bench
