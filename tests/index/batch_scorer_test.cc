// The batch scorers: the CPU one against FlatSearch (always), the GPU one against the CPU one (only
// where a GPU is present; CI has none and skips those), and what a build or machine without a GPU
// answers.
#include <random>

#include "bench/gpu/gpu_checks.h"
#include "gtest/gtest.h"
#include "index/cpu_batch_scorer.h"
#include "index/cuda/gpu.h"
#include "index/cuda/gpu_kmeans.h"
#include "index/flat_search.h"

namespace adanns::index {
namespace {

constexpr uint32_t kDim = 48;

VectorTable TableOf(const std::vector<float>& rows) {
  VectorTable table(kDim);
  for (size_t i = 0; i < rows.size() / kDim; ++i) {
    table.Upsert(1000 + i, {rows.data() + i * kDim, kDim});
  }
  return table;
}

TEST(CpuBatchScorerTest, ScanMatchesFlatSearchAtEveryMetricAndPrefix) {
  const std::vector<float> rows = gpu_bench::SyntheticRows(3000, kDim, 1, true);
  const std::vector<float> queries = gpu_bench::SyntheticRows(20, kDim, 2, true);
  VectorTable table = TableOf(rows);
  for (uint64_t id = 1000; id < 4000; id += 7) table.Remove(id);
  for (const Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    CpuBatchScorer scorer(&table, metric);
    for (const uint32_t dims : {8u, 24u, kDim}) {
      auto batch = scorer.Scan({queries.data(), 20, kDim}, dims, 10, table.row_count());
      ASSERT_TRUE(batch.ok()) << batch.status();
      Plan plan;
      plan.search_dims = dims;
      auto resolved = ResolveFlatPlan(plan, kDim, 10);
      ASSERT_TRUE(resolved.ok());
      for (size_t q = 0; q < 20; ++q) {
        const SearchResult flat =
            FlatSearch(table, metric, {queries.data() + q * kDim, kDim}, 10, *resolved);
        ASSERT_EQ(batch->counts[q], flat.hits.size());
        for (size_t i = 0; i < flat.hits.size(); ++i) {
          EXPECT_EQ(table.IdOf(batch->rows[q * 10 + i]), flat.hits[i].id);
          const float score =
              metric == Metric::kL2 ? batch->distances[q * 10 + i] : -batch->distances[q * 10 + i];
          EXPECT_FLOAT_EQ(score, flat.hits[i].score);
        }
      }
    }
  }
}

TEST(CpuBatchScorerTest, CandidatesSkipDeadRowsAndKeepTheBest) {
  const std::vector<float> rows = gpu_bench::SyntheticRows(500, kDim, 3, false);
  VectorTable table = TableOf(rows);
  table.Remove(1000 + 5);
  CpuBatchScorer scorer(&table, Metric::kL2);
  CandidateLists lists;
  lists.Add(std::vector<RowId>{5, 6, 7, 8, 9999});
  lists.Add(std::vector<RowId>{});
  auto result = scorer.ScoreCandidates({rows.data(), 2, kDim}, kDim, lists, 3);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->counts[0], 3u);
  EXPECT_EQ(result->counts[1], 0u);
  // Query 0 is row 0's vector: the live candidates 6, 7, 8 come back, ordered by distance.
  for (uint32_t i = 0; i < 3; ++i) EXPECT_NE(result->rows[i], 5u);
  EXPECT_LE(result->distances[0], result->distances[1]);
  EXPECT_LE(result->distances[1], result->distances[2]);
}

TEST(CpuBatchScorerTest, RejectsBadRequests) {
  VectorTable table(kDim);
  CpuBatchScorer scorer(&table, Metric::kL2);
  std::vector<float> query(kDim);
  EXPECT_EQ(scorer.Scan({query.data(), 1, kDim}, kDim + 1, 10, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(scorer.Scan({query.data(), 1, kDim}, kDim, 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  CandidateLists two;
  two.Add(std::vector<RowId>{});
  two.Add(std::vector<RowId>{});
  EXPECT_EQ(scorer.ScoreCandidates({query.data(), 1, kDim}, kDim, two, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GpuTest, WithoutAGpuEveryEntryPointSaysUnavailable) {
  if (gpu::Probe().available) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(gpu::Probe().reason.empty());
  gpu::ScorerOptions options;
  options.dim = kDim;
  EXPECT_EQ(gpu::CreateScorer(options).status().code(), absl::StatusCode::kUnavailable);
  std::vector<float> points(100 * kDim);
  KMeansOptions kmeans;
  kmeans.clusters = 4;
  EXPECT_EQ(gpu::TrainKMeans(points.data(), 100, kDim, kmeans).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(GpuTest, GpuAgreesWithCpu) {
  const gpu::DeviceInfo device = gpu::Probe();
  if (!device.available) GTEST_SKIP() << "no GPU: " << device.reason;
  for (const gpu_bench::CheckResult& result : gpu_bench::RunGpuChecks(42)) {
    EXPECT_TRUE(result.passed) << result.name << ": " << result.detail;
  }
}

}  // namespace
}  // namespace adanns::index
