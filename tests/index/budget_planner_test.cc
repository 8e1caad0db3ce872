// The budget planner on a calibrated IVF + graph over seeded clustered data: target recalls are
// met on held-out queries, MFLOPs caps are never exceeded (every index kind stops its scan at the
// cap) and more budget never buys less recall, max_dims bounds every stage, and impossible budgets
// get precise errors.
#include "index/budget_planner.h"

#include <set>

#include "gtest/gtest.h"
#include "index/flat_search.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "tests/index/clustered_data.h"

namespace adanns::index {
namespace {

class BudgetPlannerTest : public testing::Test {
 protected:
  static constexpr uint32_t kDim = 32;
  static constexpr uint32_t kK = 10;

  static void SetUpTestSuite() {
    table_ = new VectorTable(kDim);
    held_out_ = new std::vector<std::vector<float>>(FillClustered(*table_, 4000, 200).queries);
    IvfBuildParams ivf_params;
    ivf_params.nlist = 50;
    ivf_params.coarse_dims = 16;
    ivf_params.search_dims = 16;
    ivf_params.kmeans_iterations = 8;
    ivf_ = IvfIndex::Build(*table_, Metric::kL2, ivf_params)->release();
    HnswBuildParams graph_params;
    graph_params.graph_dims = 8;
    graph_ = HnswIndex::Build(*table_, Metric::kL2, graph_params, 1)->release();
    ready_ = new std::vector<const ServedIndex*>{ivf_, graph_};
    CalibrationOptions options;
    options.queries = 100;
    options.ks = {1, 10};
    calibration_ = new Calibration(*Calibrate(*table_, Metric::kL2, *ready_, Shape(), options));
  }
  static void TearDownTestSuite() {
    delete calibration_;
    delete ready_;
    delete graph_;
    delete ivf_;
    delete held_out_;
    delete table_;
  }

  static CollectionShape Shape() { return {kDim, kNesting, table_->size()}; }

  // Mean recall@k of a resolved plan on the held-out queries; every query's cost checked against
  // `cap` when given.
  static double HeldOutRecall(const Plan& plan, uint32_t k, std::optional<double> cap = {}) {
    const Plan exact = *ResolveFlatPlan({}, kDim, k);
    double found = 0;
    for (const auto& query : *held_out_) {
      std::set<uint64_t> truth;
      for (const Hit& hit : FlatSearch(*table_, Metric::kL2, query, k, exact).hits) {
        truth.insert(hit.id);
      }
      const SearchResult result = RunPlan(plan, *table_, Metric::kL2, query, k, *ready_);
      if (cap.has_value()) {
        EXPECT_LE(result.cost.mflops, *cap * (1 + 1e-9)) << plan.index;
      }
      for (const Hit& hit : result.hits) found += truth.count(hit.id);
    }
    return found / (double(k) * held_out_->size());
  }

  static inline const std::vector<uint32_t> kNesting = {4, 8, 16, 32};
  static inline VectorTable* table_;
  static inline std::vector<std::vector<float>>* held_out_;
  static inline IvfIndex* ivf_;
  static inline HnswIndex* graph_;
  static inline std::vector<const ServedIndex*>* ready_;
  static inline Calibration* calibration_;
};

TEST_F(BudgetPlannerTest, TargetRecallIsMetOnHeldOutQueries) {
  double last_mflops = 0;
  for (const float target : {0.8f, 0.9f, 0.95f, 0.99f}) {
    Budget budget;
    budget.target_recall = target;
    absl::StatusOr<PlanChoice> choice = PlanSearch(budget, Shape(), kK, *ready_, calibration_);
    ASSERT_TRUE(choice.ok()) << choice.status();
    ASSERT_TRUE(choice->estimate.has_value());
    EXPECT_TRUE(choice->target_met);
    // Chosen on the lower confidence bound of its calibrated recall, which the estimate carries.
    EXPECT_GE(choice->estimate->recall_lower_bound, target);
    EXPECT_LE(choice->estimate->recall_lower_bound, choice->estimate->recall);
    EXPECT_EQ(choice->estimate->queries, calibration_->queries);
    EXPECT_EQ(choice->estimate->k, kK);
    EXPECT_GE(choice->estimate->mflops, last_mflops);  // a higher target never costs less
    last_mflops = choice->estimate->mflops;
    const double recall = HeldOutRecall(choice->plan, kK);
    std::cout << "[budget] target " << target << " plan " << choice->plan.index << " calibrated "
              << choice->estimate->recall << " held-out " << recall << " at "
              << choice->estimate->mflops << " MFLOPs\n";
    EXPECT_GE(recall, target - 0.03);
  }
  // The exact plan is calibrated: a target of 1 is reachable; the cheapest reaching it is chosen.
  Budget all;
  all.target_recall = 1.0f;
  absl::StatusOr<PlanChoice> exact = PlanSearch(all, Shape(), kK, *ready_, calibration_);
  ASSERT_TRUE(exact.ok());
  EXPECT_TRUE(exact->target_met);
}

TEST_F(BudgetPlannerTest, LargerKUsesTheNearestCalibratedKScaled) {
  Budget budget;
  budget.target_recall = 0.9f;
  absl::StatusOr<PlanChoice> small = PlanSearch(budget, Shape(), 5, *ready_, calibration_);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->estimate->k, 10u);  // the nearest calibrated k above 5
  absl::StatusOr<PlanChoice> large = PlanSearch(budget, Shape(), 40, *ready_, calibration_);
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->estimate->k, 10u);  // the largest calibrated k
  if (large->plan.rerank_candidates.has_value()) {
    EXPECT_GE(*large->plan.rerank_candidates, 40u);
  }
  EXPECT_GE(HeldOutRecall(large->plan, 40), 0.85);
}

TEST_F(BudgetPlannerTest, MflopsCapsHoldAndMoreBudgetNeverBuysLessRecall) {
  const Frontier& frontier = *FrontierFor(*calibration_, kK);
  const double cheapest = frontier.points.front().mflops;
  const double dearest = frontier.points.back().mflops;
  double last_recall = 0, last_calibrated = 0;
  for (double budget_mflops = cheapest; budget_mflops <= dearest * 1.01; budget_mflops *= 1.6) {
    Budget budget;
    budget.max_mflops = budget_mflops;
    absl::StatusOr<PlanChoice> choice = PlanSearch(budget, Shape(), kK, *ready_, calibration_);
    ASSERT_TRUE(choice.ok()) << budget_mflops << ": " << choice.status();
    ASSERT_EQ(choice->plan.max_mflops, budget_mflops);
    ASSERT_TRUE(choice->estimate.has_value());
    EXPECT_LE(choice->estimate->mflops, budget_mflops);
    EXPECT_GE(choice->estimate->recall, last_calibrated);
    last_calibrated = choice->estimate->recall;
    const double recall = HeldOutRecall(choice->plan, kK, budget_mflops);
    EXPECT_GE(recall, last_recall - 0.01) << budget_mflops;
    last_recall = std::max(last_recall, recall);
  }
  Budget tiny;
  tiny.max_mflops = cheapest / 100;
  absl::StatusOr<PlanChoice> refused = PlanSearch(tiny, Shape(), kK, *ready_, calibration_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(refused.status().message().find("smallest workable budget"), std::string::npos);
}

TEST_F(BudgetPlannerTest, EveryIndexStopsItsScanAtTheCap) {
  const std::vector<float>& query = held_out_->front();
  for (const char* kind : {"flat", "ivf", "hnsw"}) {
    Budget explicit_plan;
    explicit_plan.plan = Plan();
    explicit_plan.plan->index = kind;
    if (std::string(kind) == "ivf") explicit_plan.plan->nprobe = 50;  // every list
    Plan plan = *ChoosePlan(explicit_plan, Shape(), kK, *ready_);
    const SearchResult free = RunPlan(plan, *table_, Metric::kL2, query, kK, *ready_);
    EXPECT_FALSE(free.cost.capped) << kind;
    // Caps that leave the scan stage a fraction of what it spent freely.
    const double scan_mflops = double(free.cost.vectors_scanned) * *plan.search_dims / 1e6;
    for (const double fraction : {0.9, 0.5, 0.2}) {
      plan.max_mflops = free.cost.mflops - (1 - fraction) * scan_mflops;
      const SearchResult capped = RunPlan(plan, *table_, Metric::kL2, query, kK, *ready_);
      EXPECT_TRUE(capped.cost.capped) << kind << " at " << fraction;
      EXPECT_LE(capped.cost.mflops, *plan.max_mflops * (1 + 1e-9)) << kind << " at " << fraction;
      EXPECT_GT(capped.cost.vectors_scanned, 0u) << kind << " at " << fraction;
    }
    // A cap below what the plan commits to before scanning (its re-rank) returns nothing.
    if (plan.has_rerank()) {
      plan.max_mflops = RerankFlops(plan, Metric::kL2) / 2e6;
      const SearchResult none = RunPlan(plan, *table_, Metric::kL2, query, kK, *ready_);
      EXPECT_TRUE(none.cost.capped);
      EXPECT_TRUE(none.hits.empty());
      EXPECT_LE(none.cost.mflops, *plan.max_mflops);
    }
  }
}

TEST_F(BudgetPlannerTest, MaxDimsBoundsEveryStage) {
  for (const uint32_t max_dims : {8u, 16u}) {
    Budget recall;
    recall.target_recall = 0.9f;
    recall.max_dims = max_dims;
    absl::StatusOr<PlanChoice> choice = PlanSearch(recall, Shape(), kK, *ready_, calibration_);
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_LE(choice->plan.QueryDimsNeeded(), max_dims);

    Budget mflops;
    mflops.max_mflops = 100;
    mflops.max_dims = max_dims;
    choice = PlanSearch(mflops, Shape(), kK, *ready_, calibration_);
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_LE(choice->plan.QueryDimsNeeded(), max_dims);

    Budget none;
    none.max_dims = max_dims;
    choice = PlanSearch(none, Shape(), kK, *ready_, calibration_);
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_LE(choice->plan.QueryDimsNeeded(), max_dims);
  }
  // An explicit plan reading more is refused; a max_dims beyond the collection is invalid.
  Budget explicit_plan;
  explicit_plan.plan = Plan();
  explicit_plan.plan->index = "flat";
  explicit_plan.max_dims = 16;
  EXPECT_EQ(PlanSearch(explicit_plan, Shape(), kK, *ready_, calibration_).status().code(),
            absl::StatusCode::kInvalidArgument);
  explicit_plan.plan->search_dims = 16;
  EXPECT_TRUE(PlanSearch(explicit_plan, Shape(), kK, *ready_, calibration_).ok());
  explicit_plan.max_dims = kDim + 1;
  EXPECT_EQ(PlanSearch(explicit_plan, Shape(), kK, *ready_, calibration_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BudgetPlannerTest, CalibratedPlansOfAGoneIndexAreSkipped) {
  // Only the graph is left: the IVF's calibrated points no longer resolve.
  const std::vector<const ServedIndex*> graph_only = {graph_};
  Budget budget;
  budget.target_recall = 0.9f;
  absl::StatusOr<PlanChoice> choice = PlanSearch(budget, Shape(), kK, graph_only, calibration_);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_NE(choice->plan.index, "ivf");
  // Without a calibration a target cannot be planned.
  EXPECT_EQ(PlanSearch(budget, Shape(), kK, *ready_, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // An explicit plan the frontier holds gets its estimate.
  const CalibrationPoint& point = FrontierFor(*calibration_, kK)->points.front();
  Budget explicit_plan;
  explicit_plan.plan = point.plan;
  choice = PlanSearch(explicit_plan, Shape(), kK, *ready_, calibration_);
  ASSERT_TRUE(choice.ok());
  ASSERT_TRUE(choice->estimate.has_value());
  EXPECT_EQ(choice->estimate->recall, point.recall);
}

}  // namespace
}  // namespace adanns::index
