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
// names the offending field.
absl::StatusOr<Plan> ResolveFlatPlan(const Plan& requested, uint32_t dim, uint32_t k);

// Cost of a resolved flat plan over `live_vectors`: N*d_s + R*d_r FLOPs.
Cost FlatCost(const Plan& resolved, size_t live_vectors);

// Runs a resolved flat plan. `query` holds at least resolved.QueryDimsNeeded() floats. Scores:
// squared L2 (ascending) or inner product / cosine (descending) at the last stage's prefix; for
// cosine every prefix of query and rows is normalised. Returns min(k, live) hits.
SearchResult FlatSearch(const VectorTable& table, Metric metric, std::span<const float> query,
                        uint32_t k, const Plan& resolved);

}  // namespace adanns::index
