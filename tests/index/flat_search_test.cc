// Flat search against a double-precision brute force: every metric, prefixes, the re-rank funnel,
// deletes and replacements, plan defaults and validation.
#include "index/flat_search.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::index {
namespace {

constexpr uint32_t kDim = 48;

struct Expected {
  uint64_t id;
  double score;
};

// Brute-force top-k at a prefix (cosine re-normalises the prefix), best first.
std::vector<Expected> BruteForce(const VectorTable& table, Metric metric,
                                 const std::vector<float>& query, uint32_t dims, size_t k) {
  std::vector<Expected> all;
  for (RowId row = 0; row < table.row_count(); ++row) {
    if (!table.IsLive(row)) continue;
    const float* x = table.RowData(row);
    double l2 = 0, dot = 0, qn = 0, xn = 0;
    for (uint32_t j = 0; j < dims; ++j) {
      l2 += (double(query[j]) - x[j]) * (double(query[j]) - x[j]);
      dot += double(query[j]) * x[j];
      qn += double(query[j]) * query[j];
      xn += double(x[j]) * x[j];
    }
    double score = metric == Metric::kL2 ? l2 : dot;
    if (metric == Metric::kCosine) score = dot / std::sqrt(qn * xn);
    all.push_back({table.IdOf(row), score});
  }
  const bool lower = LowerIsBetter(metric);
  std::sort(all.begin(), all.end(), [lower](const Expected& a, const Expected& b) {
    return lower ? a.score < b.score : a.score > b.score;
  });
  all.resize(std::min(k, all.size()));
  return all;
}

void ExpectMatches(const SearchResult& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.hits.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = 1e-4 * (1 + std::abs(want[i].score));
    EXPECT_NEAR(got.hits[i].score, want[i].score, tol) << "rank " << i;
    // Ids must agree unless the neighbouring reference scores are within rounding of each other.
    const bool tie = (i > 0 && std::abs(want[i].score - want[i - 1].score) < tol) ||
                     (i + 1 < want.size() && std::abs(want[i].score - want[i + 1].score) < tol);
    if (!tie) {
      EXPECT_EQ(got.hits[i].id, want[i].id) << "rank " << i;
    }
  }
}

class FlatSearchTest : public testing::TestWithParam<Metric> {
 protected:
  void SetUp() override {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (uint64_t id = 0; id < 2000; ++id) {
      std::vector<float> v(kDim);
      for (float& x : v) x = normal(rng) * 3.0f + 0.5f;
      table_.Upsert(id * 7919, v);  // sparse ids: the table maps them to dense rows
    }
    query_.resize(kDim);
    for (float& x : query_) x = normal(rng) * 3.0f;
  }

  SearchResult Run(const Plan& requested, uint32_t k) {
    absl::StatusOr<Plan> plan = ResolveFlatPlan(requested, kDim, k);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return FlatSearch(table_, GetParam(), query_, k, *plan);
  }

  VectorTable table_{kDim};
  std::vector<float> query_;
};

TEST_P(FlatSearchTest, ExactAtFullDims) {
  ExpectMatches(Run({}, 25), BruteForce(table_, GetParam(), query_, kDim, 25));
}

TEST_P(FlatSearchTest, ExactAtEveryPrefix) {
  for (uint32_t dims : {1u, 5u, 8u, 17u, 33u, 47u}) {
    SCOPED_TRACE(dims);
    Plan plan;
    plan.search_dims = dims;
    ExpectMatches(Run(plan, 10), BruteForce(table_, GetParam(), query_, dims, 10));
  }
}

// A re-rank over every vector is an exact search at the re-rank prefix, whatever the shortlist.
TEST_P(FlatSearchTest, RerankOverAllCandidatesIsExact) {
  Plan plan;
  plan.search_dims = 4;
  plan.rerank_dims = 40;
  plan.rerank_candidates = 2000;
  SearchResult result = Run(plan, 10);
  ExpectMatches(result, BruteForce(table_, GetParam(), query_, 40, 10));
  EXPECT_EQ(*result.plan.rerank_dims, 40u);
}

// A short shortlist re-ranked returns the shortlist's members in exact re-rank order.
TEST_P(FlatSearchTest, RerankOrdersTheShortlist) {
  Plan plan;
  plan.search_dims = 8;
  plan.rerank_candidates = 30;
  SearchResult funnel = Run(plan, 30);
  Plan shortlist_plan;
  shortlist_plan.search_dims = 8;
  SearchResult shortlist = Run(shortlist_plan, 30);
  std::vector<uint64_t> funnel_ids, shortlist_ids;
  for (const Hit& h : funnel.hits) funnel_ids.push_back(h.id);
  for (const Hit& h : shortlist.hits) shortlist_ids.push_back(h.id);
  std::sort(funnel_ids.begin(), funnel_ids.end());
  std::sort(shortlist_ids.begin(), shortlist_ids.end());
  EXPECT_EQ(funnel_ids, shortlist_ids);
  const bool lower = LowerIsBetter(GetParam());
  for (size_t i = 1; i < funnel.hits.size(); ++i) {
    EXPECT_TRUE(lower ? funnel.hits[i - 1].score <= funnel.hits[i].score
                      : funnel.hits[i - 1].score >= funnel.hits[i].score);
  }
}

TEST_P(FlatSearchTest, DeletedAndReplacedVectorsAreRespected) {
  const SearchResult before = Run({}, 5);
  const uint64_t best = before.hits[0].id;
  ASSERT_TRUE(table_.Remove(best));
  for (const Hit& h : Run({}, 100).hits) EXPECT_NE(h.id, best);

  // Replace another id with the query itself: it must become the best hit.
  const uint64_t other = before.hits[3].id;
  std::vector<float> exact = query_;
  for (float& x : exact) x *= 2.0f;  // a positive multiple: best for cosine and IP too
  if (GetParam() == Metric::kL2) exact = query_;
  table_.Upsert(other, exact);
  EXPECT_EQ(Run({}, 1).hits[0].id, other);
  ExpectMatches(Run({}, 20), BruteForce(table_, GetParam(), query_, kDim, 20));
}

TEST_P(FlatSearchTest, FewerVectorsThanK) {
  VectorTable small(kDim);
  small.Upsert(1, query_);
  small.Upsert(2, std::vector<float>(kDim, 1.0f));
  absl::StatusOr<Plan> plan = ResolveFlatPlan({}, kDim, 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(FlatSearch(small, GetParam(), query_, 10, *plan).hits.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Metrics, FlatSearchTest,
                         testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const testing::TestParamInfo<Metric>& param_info) {
                           return std::string(MetricName(param_info.param));
                         });

TEST(FlatPlanTest, DefaultsAndCost) {
  absl::StatusOr<Plan> plan = ResolveFlatPlan({}, 784, 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->index, "flat");
  EXPECT_EQ(*plan->search_dims, 784u);
  EXPECT_FALSE(plan->has_rerank());
  EXPECT_DOUBLE_EQ(FlatCost(*plan, Metric::kL2, 1000).mflops, 1000 * 784 / 1e6);

  Plan funnel;
  funnel.search_dims = 64;
  funnel.rerank_candidates = 200;
  plan = ResolveFlatPlan(funnel, 784, 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(*plan->rerank_dims, 784u);
  const Cost cost = FlatCost(*plan, Metric::kL2, 60000);
  EXPECT_DOUBLE_EQ(cost.mflops, (60000.0 * 64 + 200.0 * 784) / 1e6);
  EXPECT_EQ(cost.vectors_scanned, 60000u);

  funnel.rerank_candidates.reset();
  funnel.rerank_dims = 128;
  plan = ResolveFlatPlan(funnel, 784, 50);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(*plan->rerank_candidates, 500u);  // max(10k, 100)
}

TEST(FlatPlanTest, InvalidPlansNameTheField) {
  auto error_of = [](const Plan& plan, uint32_t k) {
    absl::StatusOr<Plan> resolved = ResolveFlatPlan(plan, 64, k);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(resolved.status().message());
  };
  {
    EXPECT_NE(error_of({}, 0).find("k must be"), std::string::npos);
    EXPECT_NE(error_of({}, kMaxK + 1).find("k must be"), std::string::npos);
  }
  Plan p;
  p.search_dims = 65;
  EXPECT_NE(error_of(p, 10).find("search_dims"), std::string::npos);
  p.search_dims = 0;
  EXPECT_NE(error_of(p, 10).find("search_dims"), std::string::npos);
  p.search_dims = 32;
  p.rerank_dims = 16;
  EXPECT_NE(error_of(p, 10).find("rerank_dims"), std::string::npos);
  p.rerank_dims = 64;
  p.rerank_candidates = 5;
  EXPECT_NE(error_of(p, 10).find("rerank_candidates"), std::string::npos);
  Plan ivf;
  ivf.nprobe = 4;
  EXPECT_NE(error_of(ivf, 10).find("nprobe"), std::string::npos);
}

}  // namespace
}  // namespace adanns::index
