#include "bench/datasets/duplicates.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "bench/datasets/angular.h"
#include "bench/datasets/ground_truth.h"

namespace adanns::bench {

absl::StatusOr<PreparedDataset> WithDuplicates(PreparedDataset dataset, double fraction,
                                               uint32_t gt_k, uint64_t seed, double noise) {
  if (!(fraction > 0 && fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("duplicates fraction must be in (0, 1], got ", fraction));
  }
  FloatMatrix& base = dataset.base;
  const uint64_t dim = base.cols, rows = base.rows;
  const auto copies = static_cast<uint64_t>(std::llround(fraction * double(rows)));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  base.values.reserve((rows + copies) * dim);
  for (uint64_t c = 0; c < copies; ++c) {
    const uint64_t source = rng() % rows;
    double norm = 0;
    for (uint64_t j = 0; j < dim; ++j)
      norm += double(base.values[source * dim + j]) * base.values[source * dim + j];
    // Per-component noise whose total is `noise` of the row's norm.
    const double sigma = noise * std::sqrt(norm / double(dim));
    for (uint64_t j = 0; j < dim; ++j) {
      base.values.push_back(
          static_cast<float>(base.values[source * dim + j] + sigma * normal(rng)));
    }
  }
  base.rows = rows + copies;
  if (dataset.distance == "angular") NormalizeRows(base);  // the copies back on the unit sphere
  ASSIGN_OR_RETURN(GroundTruth truth, ExactL2GroundTruth(base, dataset.queries, gt_k));
  dataset.groundtruth = std::move(truth.neighbors);
  dataset.name = absl::StrFormat("%s-dup%g", dataset.name, 100 * fraction);
  dataset.transform = absl::StrFormat(
      "%s; then %llu random rows (%g%%) appended again with Gaussian noise of %g of the row's norm "
      "(near duplicates), ground truth recomputed",
      dataset.transform, static_cast<unsigned long long>(copies), 100 * fraction, noise);
  return dataset;
}

}  // namespace adanns::bench
