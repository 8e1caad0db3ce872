// The budget planner: turns a request's budget (a hard MFLOPs cap, a target recall, an explicit
// plan, or nothing; each with an optional dimension cap) into a resolved plan, using the
// collection's calibrated frontier when it has one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/statusor.h"
#include "index/calibration.h"
#include "index/plan.h"
#include "index/plan_chooser.h"
#include "index/served_index.h"

namespace adanns::index {

// What the calibration measured for the chosen plan.
struct RecallEstimate {
  double recall = 0;  // mean recall@k on the calibration queries
  uint32_t k = 0;     // the calibrated k used: the request's, or the nearest above it (100 above)
  double mflops = 0;  // mean MFLOPs per query
  double recall_lower_bound = 0;  // one-sided 95% lower confidence bound on recall
  uint32_t queries = 0;           // calibration queries measured
};

struct PlanChoice {
  Plan plan;  // resolved; max_mflops budgets set plan.max_mflops, a hard cap the search obeys
  std::optional<RecallEstimate> estimate;  // absent without a calibrated point for the plan
  bool target_met = true;  // target_recall: false when no plan reaches it (the best one is used)
};

// The frontier for k: the first calibrated k at or above it, else the largest.
const Frontier* FrontierFor(const Calibration& calibration, uint32_t k);

// - max_dims (any budget): 1..dim; no stage of the chosen plan reads a longer prefix (explicit
//   plans that do are INVALID_ARGUMENT).
// - plan: resolved and validated (ChoosePlan's rules); estimate when the frontier holds it.
// - max_mflops: the calibrated plan with the best recall whose mean MFLOPs fit, else the
//   longest-prefix flat plan that fits (exact cost); OUT_OF_RANGE naming the smallest workable
//   budget when none does.
// - target_recall: the cheapest calibrated plan whose recall's lower confidence bound reaches it
//   (CalibrationPoint::recall_lower_bound), else the best (target_met false);
//   exact search at max_dims (target_met false, no estimate) when every calibrated plan reads
//   more; FAILED_PRECONDITION without a calibration whose plans still resolve.
// - nothing: the preferred ready index's default plan (ChoosePlan), or exact search at max_dims
//   when that plan reads more.
// Calibrated plans are scaled to k above the calibrated k (re-rank depth and ef x ceil(k / k_c)).
absl::StatusOr<PlanChoice> PlanSearch(const Budget& budget, const CollectionShape& shape,
                                      uint32_t k, std::span<const ServedIndex* const> ready,
                                      const Calibration* calibration);

}  // namespace adanns::index
