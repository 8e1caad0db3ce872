// The automatic plan rule for flat search (see plan_chooser.h).
#include "index/plan_chooser.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "index/flat_search.h"
#include "index/status_macros.h"

namespace adanns::index {
namespace {

absl::StatusOr<Plan> ChooseWithinMflops(double max_mflops, const CollectionShape& shape,
                                        uint32_t k) {
  if (!(max_mflops > 0) || !std::isfinite(max_mflops)) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget.max_mflops must be a positive finite number, got ", max_mflops));
  }
  ASSIGN_OR_RETURN(Plan full, ResolveFlatPlan({}, shape.dim, k));
  if (FlatCost(full, shape.live_vectors).mflops <= max_mflops) return full;

  double cheapest = FlatCost(full, shape.live_vectors).mflops;
  for (auto it = shape.nesting_dims.rbegin(); it != shape.nesting_dims.rend(); ++it) {
    if (*it >= shape.dim) continue;
    Plan funnel;
    funnel.search_dims = *it;
    funnel.rerank_dims = shape.dim;
    ASSIGN_OR_RETURN(Plan resolved, ResolveFlatPlan(funnel, shape.dim, k));
    const double mflops = FlatCost(resolved, shape.live_vectors).mflops;
    if (mflops <= max_mflops) return resolved;
    cheapest = std::min(cheapest, mflops);
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("budget.max_mflops = ", max_mflops, " is below the cheapest plan (", cheapest,
                   " MFLOPs for ", shape.live_vectors, " vectors); raise the budget"));
}

}  // namespace

absl::StatusOr<Plan> ChoosePlan(const Budget& budget, const CollectionShape& shape, uint32_t k,
                                const IvfIndex* ivf) {
  if (budget.plan.has_value()) {
    const std::string& name = budget.plan->index;
    if (name == "flat" || (name.empty() && ivf == nullptr)) {
      return ResolveFlatPlan(*budget.plan, shape.dim, k);
    }
    if (name == "ivf" || name.empty()) {
      if (ivf == nullptr) {
        return absl::NotFoundError(
            "plan.index 'ivf' is not ready on this collection (build one with BuildIndex)");
      }
      return ivf->ResolvePlan(*budget.plan, k);
    }
    return absl::NotFoundError(absl::StrCat("plan.index '", name,
                                            "' does not exist; this collection has: flat",
                                            ivf != nullptr ? ", ivf" : ""));
  }
  if (budget.max_mflops.has_value()) return ChooseWithinMflops(*budget.max_mflops, shape, k);
  if (budget.target_recall.has_value()) {
    return absl::FailedPreconditionError(
        "budget.target_recall needs a calibrated index, which this server cannot build yet "
        "(use budget.plan or budget.max_mflops)");
  }
  if (ivf != nullptr) return ivf->ResolvePlan({}, k);
  return ResolveFlatPlan({}, shape.dim, k);
}

}  // namespace adanns::index
