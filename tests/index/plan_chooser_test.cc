// The automatic rule: explicit plans, MFLOPs caps (never exceeded), target recall refused.
#include "index/plan_chooser.h"

#include <vector>

#include "gtest/gtest.h"
#include "index/flat_search.h"

namespace adanns::index {
namespace {

const std::vector<uint32_t> kNesting = {8, 16, 32, 64, 128, 256, 512, 784};
const CollectionShape kShape{784, kNesting, 60000};

TEST(PlanChooserTest, NoBudgetIsExactFullDim) {
  absl::StatusOr<Plan> plan = ChoosePlan({}, kShape, 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(*plan->search_dims, 784u);
  EXPECT_FALSE(plan->has_rerank());
}

TEST(PlanChooserTest, MaxMflopsPicksTheLongestPrefixThatFits) {
  Budget budget;
  budget.max_mflops = 60000.0 * 784 / 1e6;  // exactly the full scan
  EXPECT_EQ(*ChoosePlan(budget, kShape, 10)->search_dims, 784u);

  for (double cap : {40.0, 10.0, 5.0, 1.0}) {
    budget.max_mflops = cap;
    absl::StatusOr<Plan> plan = ChoosePlan(budget, kShape, 10);
    ASSERT_TRUE(plan.ok()) << cap << ": " << plan.status();
    EXPECT_LE(FlatCost(*plan, kShape.metric, kShape.live_vectors).mflops, cap);
    // The next longer nesting prefix must not have fitted.
    auto next = std::upper_bound(kNesting.begin(), kNesting.end(), *plan->search_dims);
    ASSERT_NE(next, kNesting.end());
    Plan longer = *plan;
    longer.search_dims = *next;
    if (*next == 784u) {  // the full dim needs no re-rank
      longer.rerank_dims.reset();
      longer.rerank_candidates.reset();
    }
    EXPECT_GT(FlatCost(longer, kShape.metric, kShape.live_vectors).mflops, cap);
  }
}

TEST(PlanChooserTest, ImpossibleOrInvalidBudgets) {
  Budget budget;
  budget.max_mflops = 0.1;  // below 60000 x 8 dims
  EXPECT_EQ(ChoosePlan(budget, kShape, 10).status().code(), absl::StatusCode::kOutOfRange);
  budget.max_mflops = -1;
  EXPECT_EQ(ChoosePlan(budget, kShape, 10).status().code(), absl::StatusCode::kInvalidArgument);

  Budget recall;
  recall.target_recall = 0.9f;
  EXPECT_EQ(ChoosePlan(recall, kShape, 10).status().code(), absl::StatusCode::kFailedPrecondition);

  Budget unknown;
  unknown.plan = Plan();
  unknown.plan->index = "ivf";
  EXPECT_EQ(ChoosePlan(unknown, kShape, 10).status().code(), absl::StatusCode::kNotFound);
  // Codebook plans without a ready codebook (and "ivf_opq" without an IVF) are NOT_FOUND.
  for (const char* codebook_plan : {"opq", "ivf_opq"}) {
    unknown.plan->index = codebook_plan;
    EXPECT_EQ(ChoosePlan(unknown, kShape, 10).status().code(), absl::StatusCode::kNotFound);
  }
}

}  // namespace
}  // namespace adanns::index
