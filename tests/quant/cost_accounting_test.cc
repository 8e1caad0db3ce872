// The cost model against the work the kernels really do: every search's reported MFLOPs must
// equal the multiply-adds counted where they are performed (index/work_counter.h: StageScorer
// blocks, graph distance calls, OPQ rotation, ADC tables and code scans) — flat scans over tables
// with freed rows, funnels, IVF (full and sliced prefixes), graph and OPQ plans, alone and under
// caps, for L2, inner product and cosine. An undercount (cosine's row norms, freed rows scanned)
// fails here instead of passing as the code compared with itself. Lives with quant/ because it
// needs every index kind.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "index/plan_chooser.h"
#include "index/work_counter.h"
#include "quant/opq_index.h"
#include "tests/index/clustered_data.h"

namespace adanns::quant {
namespace {

constexpr uint32_t kDim = 64;
constexpr uint32_t kK = 10;

class CostAccountingTest : public testing::TestWithParam<Metric> {
 protected:
  void SetUp() override {
    queries_ = index::FillClustered(table_, 3000, 6).queries;
    // Freed rows the flat scan still reads.
    for (uint64_t id = 500; id < 800; id += 3) table_.Remove(id);
    index::IvfBuildParams ivf;
    ivf.nlist = 24;
    ivf.coarse_dims = 16;
    ivf.search_dims = 32;
    ivf_ = *index::IvfIndex::Build(table_, GetParam(), ivf);
    index::HnswBuildParams graph;
    graph.graph_dims = 32;
    graph_ = *index::HnswIndex::Build(table_, GetParam(), graph, 1);
    OpqBuildParams opq;
    opq.spec = {32, 8};
    opq.opq_iterations = 2;
    opq_ = *OpqIndex::Build(table_, GetParam(), opq);
    ready_ = {ivf_.get(), graph_.get(), opq_.get()};
  }

  // Runs `plan` (resolved for kK) on every query; the counted and reported work must agree.
  void ExpectCostIsWorkDone(index::Plan plan, const std::string& what) {
    index::Budget budget;
    budget.plan = plan;
    absl::StatusOr<index::Plan> resolved =
        index::ChoosePlan(budget, {kDim, {}, table_.size(), GetParam()}, kK, ready_);
    ASSERT_TRUE(resolved.ok()) << what << ": " << resolved.status();
    for (const auto& query : queries_) {
      const uint64_t before = index::CountedMultiplyAdds();
      const index::SearchResult result =
          index::RunPlan(*resolved, table_, GetParam(), query, kK, ready_);
      const double counted = static_cast<double>(index::CountedMultiplyAdds() - before);
      EXPECT_NEAR(result.cost.mflops * 1e6, counted, 1e-6 * counted + 1e-6)
          << what << " (" << MetricName(GetParam()) << ")";
      if (plan.max_mflops) {
        EXPECT_LE(counted, *plan.max_mflops * 1e6 * (1 + 1e-9)) << what << " overspent its cap";
      }
    }
  }

  index::VectorTable table_{kDim};
  std::vector<std::vector<float>> queries_;
  std::unique_ptr<index::IvfIndex> ivf_;
  std::unique_ptr<index::HnswIndex> graph_;
  std::unique_ptr<OpqIndex> opq_;
  std::vector<const index::ServedIndex*> ready_;
};

index::Plan PlanOf(const std::string& kind) {
  index::Plan plan;
  plan.index = kind;
  return plan;
}

TEST_P(CostAccountingTest, FlatScansAndFunnelsChargeEveryRowTheyScore) {
  index::Plan exact = PlanOf("flat");
  ExpectCostIsWorkDone(exact, "exact flat");
  index::Plan funnel = PlanOf("flat");
  funnel.search_dims = 16;
  funnel.rerank_candidates = 100;
  ExpectCostIsWorkDone(funnel, "funnel 16 -> 64");
  funnel.max_mflops = 0.03;
  ExpectCostIsWorkDone(funnel, "capped funnel");
}

TEST_P(CostAccountingTest, IvfChargesItsCoarseScanAndRerankStages) {
  index::Plan ivf = PlanOf("ivf");
  ivf.nprobe = 6;
  ExpectCostIsWorkDone(ivf, "ivf at its stored prefixes");
  ivf.coarse_dims = 8;  // sliced centroids and lists: no longer unit length
  ivf.search_dims = 24;
  ExpectCostIsWorkDone(ivf, "ivf on sliced prefixes");
  ivf.rerank_candidates = 50;
  ExpectCostIsWorkDone(ivf, "ivf with a re-rank");
  ivf.max_mflops = 0.012;
  ExpectCostIsWorkDone(ivf, "capped ivf");
}

TEST_P(CostAccountingTest, GraphChargesEachDistanceItComputes) {
  index::Plan graph = PlanOf("hnsw");
  graph.ef = 40;
  ExpectCostIsWorkDone(graph, "graph");
  graph.max_mflops = 0.01;
  ExpectCostIsWorkDone(graph, "capped graph");
}

TEST_P(CostAccountingTest, CodebooksChargeRotationTablesCodesAndRerank) {
  ExpectCostIsWorkDone(PlanOf("opq"), "opq");
  index::Plan composite = PlanOf("ivf_opq");
  composite.nprobe = 6;
  ExpectCostIsWorkDone(composite, "ivf_opq");
  index::Plan capped = PlanOf("opq");
  capped.max_mflops = 0.02;
  ExpectCostIsWorkDone(capped, "capped opq");
}

INSTANTIATE_TEST_SUITE_P(Metrics, CostAccountingTest,
                         testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const auto& param) { return std::string(MetricName(param.param)); });

}  // namespace
}  // namespace adanns::quant
