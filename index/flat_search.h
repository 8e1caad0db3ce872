// Exact search over a VectorTable at any prefix, optionally followed by an exact re-rank of the
// best candidates at a longer prefix (the MRL adaptive-retrieval funnel).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/plan.h"
#include "index/vector_table.h"

namespace adanns::index {

inline constexpr uint32_t kMaxK = 10000;

// Fills the flat defaults into `requested` (search_dims = dim; when the re-rank is on,
// rerank_dims = dim and rerank_candidates = max(10k, 100)) and validates it. INVALID_ARGUMENT
// names the offending field. On a tiered table (resident_dims < dim; 0 = dim) the scan may read at
// most resident_dims, search_dims defaults to it, and without search_dims the plan is the funnel
// (a re-rank at dim from storage). A `quantized` resident prefix (fp16, int8) is tiered too, even
// when it holds every dim: its scans score decoded values, so the default is the funnel as well.
absl::StatusOr<Plan> ResolveFlatPlan(const Plan& requested, uint32_t dim, uint32_t k,
                                     uint32_t resident_dims = 0, bool quantized = false);

// The most exact flat plan that reads at most `max_dims` (unresolved): a scan at max_dims, or
// when that is above the resident prefix (resident_dims > 0) or the prefix is `quantized`, the
// funnel from the resident prefix (at most max_dims) to an exact re-rank at max_dims.
Plan ExactWithin(uint32_t max_dims, uint32_t resident_dims, bool quantized = false);

// Cost of a resolved flat plan that scores `rows` table rows (live and freed alike: the scan
// reads both) and re-ranks `reranked` candidates (default: min(R, rows), the most it can):
// rows*d_s + reranked*d_r multiply-adds, each doubled for cosine (TableRowFlops).
Cost FlatCost(const Plan& resolved, Metric metric, size_t rows,
              std::optional<size_t> reranked = std::nullopt);

// How far a flat plan's scan goes over a table of `table_rows` allocated rows under its cap: the
// rows to score (all of them, freed ones too, unless the cap stops the scan earlier) and whether
// the cap stopped it; `capped_out` when the re-rank alone is over the cap (then nothing is
// scored). Shared by FlatSearch and the GPU path so both charge and cap alike; each then charges
// FlatCost(resolved, metric, rows, candidates it re-ranked).
struct FlatScan {
  size_t rows = 0;
  bool capped = false;      // the cap stopped the scan before the last row
  bool capped_out = false;  // the re-rank alone is over the cap: nothing is scored
};
FlatScan PlanFlatScan(const Plan& resolved, Metric metric, size_t table_rows);

// Runs a resolved flat plan. `query` holds at least resolved.QueryDimsNeeded() floats. Scores:
// squared L2 (ascending) or inner product / cosine (descending) at the last stage's prefix; for
// cosine every prefix of query and rows is normalised. Returns min(k, live) hits.
SearchResult FlatSearch(const VectorTable& table, Metric metric, std::span<const float> query,
                        uint32_t k, const Plan& resolved);

}  // namespace adanns::index
