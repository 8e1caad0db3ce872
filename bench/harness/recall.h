// Per-query accuracy and latency statistics of one search point: recall@k against the exact
// ground truth, and latency percentiles.
#pragma once

#include <cstdint>
#include <vector>

namespace adanns::bench {

// |returned top-k ∩ truth top-k| / k. `returned` holds k ids, best first, -1 for padding; an id
// returned twice counts once. `truth` holds at least k ids.
double RecallAtK(const int64_t* returned, const int32_t* truth, uint32_t k);

// The p-quantile (0 <= p <= 1) of `values` by the nearest-rank rule; NaN when empty.
double Percentile(std::vector<double> values, double p);

}  // namespace adanns::bench
