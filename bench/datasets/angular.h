// Angular (cosine) variants of prepared data sets: rows scaled to unit L2 norm, ground truth
// recomputed on the unit vectors, where L2 order is cosine order (|a - b|^2 = 2 - 2 cos).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "bench/datasets/matrix.h"
#include "bench/datasets/prepared_dataset.h"

namespace adanns::bench {

// Scales every row to unit L2 norm (computed in double); all-zero rows stay zero.
void NormalizeRows(FloatMatrix& vectors);

// `dataset` with base and queries normalised, distance "angular", name + "-angular" and exact
// top-`gt_k` cosine ground truth. `full_rescans` (optional) as in GroundTruth.
absl::StatusOr<PreparedDataset> ToAngular(PreparedDataset dataset, uint32_t gt_k,
                                          uint64_t* full_rescans = nullptr);

}  // namespace adanns::bench
