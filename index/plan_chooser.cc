// The automatic plan rule for flat search (see plan_chooser.h).
#include "index/plan_chooser.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "index/flat_search.h"
#include "index/status_macros.h"

namespace adanns::index {
namespace {

// Index kinds the automatic plan uses when ready, best first.
constexpr std::array<std::string_view, 2> kPreferredKinds = {"hnsw", "ivf"};

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
                                std::span<const ServedIndex* const> ready) {
  auto find = [&](std::string_view kind) -> const ServedIndex* {
    for (const ServedIndex* index : ready) {
      if (index->kind() == kind) return index;
    }
    return nullptr;
  };
  const ServedIndex* preferred = nullptr;
  for (std::string_view kind : kPreferredKinds) {
    if (preferred == nullptr) preferred = find(kind);
  }
  if (budget.plan.has_value()) {
    const std::string& name = budget.plan->index;
    if (name == "flat" || (name.empty() && preferred == nullptr)) {
      return ResolveFlatPlan(*budget.plan, shape.dim, k);
    }
    if (name.empty()) return preferred->ResolvePlan(*budget.plan, k);
    if (const ServedIndex* named = find(name)) return named->ResolvePlan(*budget.plan, k);
    if (std::find(kPreferredKinds.begin(), kPreferredKinds.end(), name) != kPreferredKinds.end()) {
      return absl::NotFoundError(absl::StrCat("plan.index '", name,
                                              "' is not ready on this collection (build one with "
                                              "BuildIndex)"));
    }
    std::string known = "flat";
    for (const ServedIndex* index : ready)
      absl::StrAppend(&known, ", ", std::string(index->kind()));
    return absl::NotFoundError(
        absl::StrCat("plan.index '", name, "' does not exist; this collection has: ", known));
  }
  if (budget.max_mflops.has_value()) return ChooseWithinMflops(*budget.max_mflops, shape, k);
  if (budget.target_recall.has_value()) {
    return absl::FailedPreconditionError(
        "budget.target_recall needs a calibrated index, which this server cannot build yet "
        "(use budget.plan or budget.max_mflops)");
  }
  if (preferred != nullptr) return preferred->ResolvePlan({}, k);
  return ResolveFlatPlan({}, shape.dim, k);
}

}  // namespace adanns::index
