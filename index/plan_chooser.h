// Resolves explicit plans over the collection's ready indexes, picks the default plan, and runs
// resolved plans. Budgets with a calibration go through PlanSearch (budget_planner.h).
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/plan.h"
#include "index/served_index.h"

namespace adanns::index {

// Plan.index values of codebook plans: "opq" scans every code, "ivf_opq" the IVF's probed lists.
inline constexpr char kCodebookKind[] = "opq";
inline constexpr char kIvfCodebookPlan[] = "ivf_opq";

struct CollectionShape {
  uint32_t dim = 0;
  std::span<const uint32_t> nesting_dims;  // increasing, the last may equal dim
  size_t live_vectors = 0;
  // What a flat plan's table rows cost (TableRowFlops).
  Metric metric = Metric::kL2;
  // The table's resident prefix (VectorTable::resident_dims); 0 = dim (every vector whole in RAM).
  uint32_t resident_dims = 0;
  // Whether the resident prefix is quantised (VectorTable::quantized).
  bool quantized = false;
};

// `ready` holds the collection's ready indexes (any order).
// - explicit plan: "flat" resolves as a flat plan; a ready index's kind ("ivf", "hnsw") on that
//   index (NOT_FOUND when it is not ready); "opq" on the codebook plan.codebook names (may be
//   omitted when one codebook is ready), "ivf_opq" on that codebook and the IVF; "" on the
//   preferred ready index (the graph, then the IVF), else flat; other names are NOT_FOUND.
// - nothing set: the preferred ready index's default plan, else exact flat search.
// - max_mflops, target_recall: PlanSearch (budget_planner.h) without a calibration.
absl::StatusOr<Plan> ChoosePlan(const Budget& budget, const CollectionShape& shape, uint32_t k,
                                std::span<const ServedIndex* const> ready = {});

// Runs a plan ChoosePlan resolved over the same `ready` indexes (flat when it names no index).
SearchResult RunPlan(const Plan& resolved, const VectorTable& table, Metric metric,
                     std::span<const float> query, uint32_t k,
                     std::span<const ServedIndex* const> ready);

}  // namespace adanns::index
