// A variant with near-duplicate rows, the kind of corpus that hands a stored-vector calibration
// query its twin at distance ~0: a random `fraction` of the base rows is appended again with
// noise of relative size `noise` per row (well inside index::IsTwin's 1%), and the ground truth is
// recomputed over the grown base (duplicates of a query's neighbours tie with them).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "bench/datasets/prepared_dataset.h"

namespace adanns::bench {

absl::StatusOr<PreparedDataset> WithDuplicates(PreparedDataset dataset, double fraction,
                                               uint32_t gt_k, uint64_t seed = 5,
                                               double noise = 1e-3);

}  // namespace adanns::bench
