// Budget → plan (see budget_planner.h).
#include "index/budget_planner.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/flat_search.h"

namespace adanns::index {
namespace {

// A calibrated point that resolves on today's indexes, and the plan it resolves to.
struct Candidate {
  Plan plan;
  const CalibrationPoint* point;
};

// The calibrated plan for a larger k: the breadth knobs grow with k.
Plan ScaledToK(Plan plan, uint32_t calibrated_k, uint32_t k) {
  if (k <= calibrated_k) return plan;
  const uint32_t factor = (k + calibrated_k - 1) / calibrated_k;
  if (plan.rerank_candidates.has_value() && *plan.rerank_candidates > 0) {
    *plan.rerank_candidates *= factor;
  }
  if (plan.ef.has_value()) *plan.ef *= factor;
  return plan;
}

// The frontier's points that resolve on the ready indexes for k within max_dims, in frontier
// order (increasing cost on its axis, MFLOPs or latency, and increasing recall); only those of plan
// index `only_index` when it is not empty. Points of a dropped index, or refused for this k, are
// left out.
std::vector<Candidate> Resolvable(const Frontier& frontier, const CollectionShape& shape,
                                  uint32_t k, std::span<const ServedIndex* const> ready,
                                  uint32_t max_dims, std::string_view only_index = {}) {
  std::vector<Candidate> candidates;
  for (const CalibrationPoint& point : frontier.points) {
    if (!only_index.empty() && point.plan.index != only_index) continue;
    Budget budget;
    budget.plan = ScaledToK(point.plan, frontier.k, k);
    absl::StatusOr<Plan> resolved = ChoosePlan(budget, shape, k, ready);
    if (!resolved.ok() || resolved->QueryDimsNeeded() > max_dims) continue;
    candidates.push_back({*std::move(resolved), &point});
  }
  return candidates;
}

// `queries`: the calibration's, for points that do not carry their own (none before format 3).
RecallEstimate EstimateOf(const Candidate& candidate, uint32_t calibrated_k, uint32_t queries) {
  return {candidate.point->recall, calibrated_k, candidate.point->mflops,
          candidate.point->recall_lower_bound(),
          candidate.point->queries > 0 ? candidate.point->queries : queries};
}

// The calibrated numbers of a resolved plan, when the frontier holds it.
std::optional<RecallEstimate> LookUp(const Plan& resolved, const Calibration* calibration,
                                     const CollectionShape& shape, uint32_t k,
                                     std::span<const ServedIndex* const> ready) {
  const Frontier* frontier = calibration != nullptr ? FrontierFor(*calibration, k) : nullptr;
  if (frontier == nullptr) return std::nullopt;
  // Per request: only the points of the plan's own index are resolved.
  for (const Candidate& candidate :
       Resolvable(*frontier, shape, k, ready, shape.dim, resolved.index)) {
    if (candidate.plan == resolved) {
      return EstimateOf(candidate, frontier->k, calibration->queries);
    }
  }
  return std::nullopt;
}

// Exact search at `dims`, or MRL funnels re-ranking at `dims` from shorter nesting prefixes: the
// longest scan prefix whose exact cost fits. `cheapest` receives the cheapest cost seen.
std::optional<Plan> FlatWithin(double max_mflops, const CollectionShape& shape, uint32_t k,
                               uint32_t dims, double* cheapest) {
  std::vector<Plan> plans;
  plans.push_back(ExactWithin(dims, shape.resident_dims, shape.quantized));
  for (auto it = shape.nesting_dims.rbegin(); it != shape.nesting_dims.rend(); ++it) {
    if (*it >= dims) continue;
    Plan funnel;
    funnel.search_dims = *it;
    funnel.rerank_dims = dims;
    plans.push_back(funnel);
  }
  for (const Plan& requested : plans) {
    absl::StatusOr<Plan> resolved =
        ResolveFlatPlan(requested, shape.dim, k, shape.resident_dims, shape.quantized);
    if (!resolved.ok()) continue;
    const double mflops = FlatCost(*resolved, shape.metric, shape.live_vectors).mflops;
    *cheapest = std::min(*cheapest, mflops);
    if (mflops <= max_mflops) return *std::move(resolved);
  }
  return std::nullopt;
}

absl::StatusOr<PlanChoice> WithinMflops(double max_mflops, const CollectionShape& shape, uint32_t k,
                                        std::span<const ServedIndex* const> ready,
                                        const Calibration* calibration, uint32_t max_dims) {
  if (!(max_mflops > 0) || !std::isfinite(max_mflops)) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget.max_mflops must be a positive finite number, got ", max_mflops));
  }
  double cheapest = HUGE_VAL;
  PlanChoice choice;
  const Frontier* frontier = calibration != nullptr ? FrontierFor(*calibration, k) : nullptr;
  const Candidate* best = nullptr;
  std::vector<Candidate> candidates;
  if (frontier != nullptr) candidates = Resolvable(*frontier, shape, k, ready, max_dims);
  for (const Candidate& candidate : candidates) {
    cheapest = std::min(cheapest, candidate.point->mflops);
    if (candidate.point->mflops <= max_mflops) best = &candidate;  // recall grows along them
  }
  if (best != nullptr) {
    choice.plan = best->plan;
    choice.estimate = EstimateOf(*best, frontier->k, calibration->queries);
  } else if (std::optional<Plan> flat = FlatWithin(max_mflops, shape, k, max_dims, &cheapest)) {
    choice.plan = *std::move(flat);
  } else {
    return absl::OutOfRangeError(absl::StrCat(
        "budget.max_mflops = ", max_mflops, " is below every plan for k = ", k, " on ",
        shape.live_vectors, " vectors; the smallest workable budget is ", cheapest, " MFLOPs"));
  }
  choice.plan.max_mflops = max_mflops;
  return choice;
}

absl::StatusOr<PlanChoice> ReachingRecall(float target, const CollectionShape& shape, uint32_t k,
                                          std::span<const ServedIndex* const> ready,
                                          const Calibration* calibration, uint32_t max_dims) {
  if (!(target > 0 && target <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("budget.target_recall must be in (0, 1], got ", target));
  }
  const Frontier* frontier = calibration != nullptr ? FrontierFor(*calibration, k) : nullptr;
  if (frontier == nullptr) {
    return absl::FailedPreconditionError(
        "budget.target_recall needs a calibrated collection: BuildIndex calibrates when its build "
        "finishes, or call Calibrate (see DescribeCollection's calibration state)");
  }
  const std::vector<Candidate> candidates = Resolvable(*frontier, shape, k, ready, max_dims);
  PlanChoice choice;
  if (candidates.empty() && max_dims < shape.dim) {
    // Every calibrated plan reads more than max_dims: exact search at that prefix (the funnel
    // above the resident prefix), unmeasured.
    ASSIGN_OR_RETURN(choice.plan,
                     ResolveFlatPlan(ExactWithin(max_dims, shape.resident_dims, shape.quantized),
                                     shape.dim, k, shape.resident_dims, shape.quantized));
    choice.target_met = false;
    return choice;
  }
  if (candidates.empty()) {
    return absl::FailedPreconditionError(
        "no calibrated plan applies now (its indexes were dropped); call Calibrate again");
  }
  // The cheapest plan whose lower confidence bound reaches the target (see kRecallConfidenceZ).
  const auto reaching = std::find_if(candidates.begin(), candidates.end(), [&](const Candidate& c) {
    return c.point->recall_lower_bound() >= target;
  });
  choice.target_met = reaching != candidates.end();
  const Candidate& chosen = choice.target_met ? *reaching : candidates.back();
  choice.plan = chosen.plan;
  choice.estimate = EstimateOf(chosen, frontier->k, calibration->queries);
  return choice;
}

}  // namespace

const Frontier* FrontierFor(const Calibration& calibration, uint32_t k) {
  for (const Frontier& frontier : calibration.frontiers) {
    if (frontier.k >= k && !frontier.points.empty()) return &frontier;
  }
  for (auto it = calibration.frontiers.rbegin(); it != calibration.frontiers.rend(); ++it) {
    if (!it->points.empty()) return &*it;
  }
  return nullptr;
}

absl::StatusOr<PlanChoice> PlanSearch(const Budget& budget, const CollectionShape& shape,
                                      uint32_t k, std::span<const ServedIndex* const> ready,
                                      const Calibration* calibration) {
  const uint32_t max_dims = budget.max_dims.value_or(shape.dim);
  if (max_dims == 0 || max_dims > shape.dim) {
    return absl::InvalidArgumentError(absl::StrCat("budget.max_dims must be in 1..", shape.dim,
                                                   " (the collection's dim), got ", max_dims));
  }
  if (budget.max_mflops.has_value()) {
    return WithinMflops(*budget.max_mflops, shape, k, ready, calibration, max_dims);
  }
  if (budget.target_recall.has_value()) {
    return ReachingRecall(*budget.target_recall, shape, k, ready, calibration, max_dims);
  }
  Budget plain;
  plain.plan = budget.plan;
  ASSIGN_OR_RETURN(Plan resolved, ChoosePlan(plain, shape, k, ready));
  if (resolved.QueryDimsNeeded() > max_dims) {
    if (budget.plan.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the plan reads ", resolved.QueryDimsNeeded(),
                       " dims in one of its stages, more than budget.max_dims = ", max_dims));
    }
    ASSIGN_OR_RETURN(resolved,
                     ResolveFlatPlan(ExactWithin(max_dims, shape.resident_dims, shape.quantized),
                                     shape.dim, k, shape.resident_dims, shape.quantized));
  }
  PlanChoice choice;
  choice.estimate = LookUp(resolved, calibration, shape, k, ready);
  choice.plan = std::move(resolved);
  return choice;
}

}  // namespace adanns::index
