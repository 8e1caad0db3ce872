// faiss-ivf, faiss-opq, hnswlib, adanns-hnsw and adanns-rigid-ivf on a tiny random set, against
// brute-force ground truth.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench/datasets/angular.h"
#include "bench/harness/method.h"
#include "bench/harness/recall.h"
#include "bench/methods/baseline_cache.h"
#include "bench/threads.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::bench {
namespace {

constexpr uint64_t kRows = 3000;
constexpr uint32_t kDim = 32;
constexpr uint32_t kQueries = 50;
constexpr uint32_t kK = 10;

// Exact top-kK by squared L2 (or by dot product for cosine on unit rows), in double.
Int32Matrix BruteForce(const FloatMatrix& base, const FloatMatrix& queries, bool by_dot) {
  Int32Matrix truth = ZeroMatrix<int32_t>(queries.rows, kK);
  for (uint64_t q = 0; q < queries.rows; ++q) {
    std::vector<std::pair<double, int32_t>> scored;
    for (uint64_t i = 0; i < base.rows; ++i) {
      double score = 0;
      for (uint32_t j = 0; j < base.cols; ++j) {
        const double a = queries.row(q)[j];
        const double b = base.row(i)[j];
        score += by_dot ? -a * b : (a - b) * (a - b);
      }
      scored.emplace_back(score, static_cast<int32_t>(i));
    }
    std::partial_sort(scored.begin(), scored.begin() + kK, scored.end());
    for (uint32_t r = 0; r < kK; ++r) truth.values[q * kK + r] = scored[r].second;
  }
  return truth;
}

BenchData RandomData(Metric metric) {
  std::mt19937 random(11);
  std::normal_distribution<float> normal;
  BenchData data;
  data.name = "tiny-random";
  data.metric = metric;
  data.base = ZeroMatrix<float>(kRows, kDim);
  for (float& v : data.base.values) v = normal(random);
  data.queries = ZeroMatrix<float>(kQueries, kDim);
  for (float& v : data.queries.values) v = normal(random);
  if (metric == Metric::kCosine) {
    // Ground truth on unit rows; the methods get the raw rows and must normalise themselves.
    FloatMatrix unit_base = data.base;
    FloatMatrix unit_queries = data.queries;
    NormalizeRows(unit_base);
    NormalizeRows(unit_queries);
    data.groundtruth = BruteForce(unit_base, unit_queries, /*by_dot=*/true);
  } else {
    data.groundtruth = BruteForce(data.base, data.queries, /*by_dot=*/false);
  }
  return data;
}

struct Measured {
  double recall = 0;
  std::vector<QueryWork> work;
  std::vector<int64_t> ids;
};

std::unique_ptr<BuiltIndex> Build(const std::string& method_name, const BenchData& data,
                                  const Params& build, BuildStats* stats) {
  // FAISS's OpenMP regions on these tiny sets are all synchronisation: one thread is faster on a
  // busy machine. hnswlib still builds and searches with 2 std::threads.
  SetComputeThreads(1);
  absl::StatusOr<std::unique_ptr<Method>> method = CreateMethod(method_name);
  EXPECT_TRUE(method.ok()) << method.status();
  if (!method.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<BuiltIndex>> index = (*method)->Build(data, build, 2, stats);
  EXPECT_TRUE(index.ok()) << index.status();
  if (!index.ok()) return nullptr;
  (*index)->set_query_dim(kDim);
  return *std::move(index);
}

// One Search call per query, or one SearchBatch over 2 threads.
Measured SearchAll(const BuiltIndex& index, const BenchData& data, bool batch) {
  Measured out;
  out.ids.assign(kQueries * kK, -1);
  out.work.resize(kQueries);
  if (batch) {
    index.SearchBatch(data.queries.values.data(), kQueries, kK, 2, out.ids.data(), out.work.data());
  } else {
    for (uint32_t q = 0; q < kQueries; ++q) {
      index.Search(data.queries.row(q), kK, &out.ids[q * kK], &out.work[q]);
    }
  }
  for (uint32_t q = 0; q < kQueries; ++q) {
    out.recall += RecallAtK(&out.ids[q * kK], data.groundtruth.row(q), kK) / kQueries;
  }
  return out;
}

TEST(BaselineMethodsTest, FaissIvfAtFullProbeIsExactAndScansEverything) {
  for (Metric metric : {Metric::kL2, Metric::kCosine}) {
    const BenchData data = RandomData(metric);
    BuildStats stats;
    std::unique_ptr<BuiltIndex> index = Build("faiss-ivf", data, {{"nlist", 64}}, &stats);
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(stats.bytes_per_vector["full_vectors"], 4.0 * kDim);
    EXPECT_EQ(stats.bytes_per_vector["ids"], 8);
    EXPECT_GT(stats.train_s, 0);
    ASSERT_TRUE(index->SetSearchParams({{"nprobe", 64}}).ok());
    for (bool batch : {false, true}) {
      const Measured all = SearchAll(*index, data, batch);
      EXPECT_GE(all.recall, 0.999) << "metric " << static_cast<int>(metric);
      for (const QueryWork& work : all.work) {
        EXPECT_EQ(work.vectors_scanned, kRows);
        EXPECT_DOUBLE_EQ(work.flops, 64.0 * kDim + double(kRows) * kDim);
      }
    }
    // Fewer probes scan fewer vectors, and lose some recall.
    ASSERT_TRUE(index->SetSearchParams({{"nprobe", 2}}).ok());
    const Measured few = SearchAll(*index, data, false);
    EXPECT_LT(few.work[0].vectors_scanned, kRows);
    EXPECT_LT(few.recall, 0.999);
  }
}

TEST(BaselineMethodsTest, FaissIvfRejectsUnknownParameters) {
  const BenchData data = RandomData(Metric::kL2);
  absl::StatusOr<std::unique_ptr<Method>> method = CreateMethod("faiss-ivf");
  ASSERT_TRUE(method.ok());
  BuildStats stats;
  EXPECT_EQ((*method)->Build(data, {{"nlists", 8}}, 1, &stats).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::unique_ptr<BuiltIndex> index = Build("faiss-ivf", data, {{"nlist", 16}}, &stats);
  ASSERT_NE(index, nullptr);
  EXPECT_FALSE(index->SetSearchParams({{"ef", 8}}).ok());
}

TEST(BaselineMethodsTest, FaissIvfDefaultGridIsDense) {
  BenchData data;
  data.base.rows = 60000;
  data.base.cols = 784;
  const Grid grid = CreateMethod("faiss-ivf").value()->DefaultGrid(data);
  ASSERT_EQ(grid.builds.size(), 1u);
  EXPECT_EQ(grid.builds[0].at("nlist"), 1024);
  ASSERT_EQ(grid.searches.size(), 30u);
  for (uint32_t p = 1; p <= 16; ++p) EXPECT_EQ(grid.searches[p - 1].at("nprobe"), p);
  for (size_t i = 1; i < grid.searches.size(); ++i) {
    EXPECT_LE(grid.searches[i].at("nprobe") - grid.searches[i - 1].at("nprobe"), 8);
  }
  EXPECT_EQ(grid.searches.back().at("nprobe"), 64);
}

// Our served indexes through the harness adapter: plan keys reach the index, its defaults fill the
// rest, and unknown or unheld parameters are refused.
TEST(BaselineMethodsTest, AdannsHnswAndRigidIvfThroughTheAdapter) {
  for (Metric metric : {Metric::kL2, Metric::kCosine}) {
    const BenchData data = RandomData(metric);
    BuildStats stats;
    std::unique_ptr<BuiltIndex> graph =
        Build("adanns-hnsw", data, {{"graph_dims", 16}, {"M", 12}}, &stats);
    ASSERT_NE(graph, nullptr);
    EXPECT_GE(stats.bytes_per_vector["graph"], 2 * 12 * 4 + 16 * 4);
    // Random rows have no nested structure: only a beam over (nearly) everything, re-ranked at
    // the full dim, is exact here.
    ASSERT_TRUE(graph->SetSearchParams({{"ef", kRows}}).ok());
    const Measured wide = SearchAll(*graph, data, false);
    EXPECT_GE(wide.recall, 0.99) << "metric " << static_cast<int>(metric);
    // Cost: graph distances at 16 dims plus the re-ranked candidates at the full 32.
    EXPECT_GT(wide.work[0].flops, wide.work[0].vectors_scanned * 16.0);
    ASSERT_TRUE(graph->SetSearchParams({{"ef", 20}, {"rerank_candidates", 10}}).ok());
    EXPECT_LT(SearchAll(*graph, data, false).work[0].vectors_scanned, wide.work[0].vectors_scanned);
    EXPECT_FALSE(graph->SetSearchParams({{"nprobe", 4}}).ok());  // an IVF parameter
    EXPECT_FALSE(graph->SetSearchParams({{"efs", 4}}).ok());

    std::unique_ptr<BuiltIndex> rigid = Build("adanns-rigid-ivf", data, {{"nlist", 16}}, &stats);
    ASSERT_NE(rigid, nullptr);
    ASSERT_TRUE(rigid->SetSearchParams({{"nprobe", 16}}).ok());
    EXPECT_GE(SearchAll(*rigid, data, false).recall, 0.999);  // every list, full dims: exact
    absl::StatusOr<std::unique_ptr<Method>> method = CreateMethod("adanns-rigid-ivf");
    ASSERT_TRUE(method.ok());
    EXPECT_FALSE((*method)->Build(data, {{"search_dims", 8}}, 1, &stats).ok());
  }
}

TEST(BaselineMethodsTest, HnswlibAtLargeEfIsNearlyExact) {
  for (Metric metric : {Metric::kL2, Metric::kCosine}) {
    const BenchData data = RandomData(metric);
    BuildStats stats;
    std::unique_ptr<BuiltIndex> index =
        Build("hnswlib", data, {{"M", 16}, {"ef_construction", 100}}, &stats);
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(stats.bytes_per_vector["full_vectors"], 4.0 * kDim);
    // Level 0 holds 2M links of 4 bytes plus a count.
    EXPECT_GE(stats.bytes_per_vector["graph"], 2 * 16 * 4 + 4);
    ASSERT_TRUE(index->SetSearchParams({{"ef", 256}}).ok());
    const Measured single = SearchAll(*index, data, false);
    EXPECT_GE(single.recall, 0.99) << "metric " << static_cast<int>(metric);
    EXPECT_GT(single.work[0].vectors_scanned, 0u);
    EXPECT_DOUBLE_EQ(single.work[0].flops, single.work[0].vectors_scanned * double(kDim));
    const Measured batch = SearchAll(*index, data, true);
    EXPECT_EQ(batch.ids, single.ids);
    for (uint32_t q = 0; q < kQueries; ++q) {
      // Counted in the distance function, per query even in a batch over two threads, and never
      // more than one evaluation per node on level 0 plus the few upper-level steps (hnswlib's
      // own counter adds whole neighbour lists, visited or not).
      EXPECT_EQ(batch.work[q].vectors_scanned, single.work[q].vectors_scanned) << q;
      EXPECT_LE(single.work[q].vectors_scanned, kRows + 200) << q;
    }
    ASSERT_TRUE(index->SetSearchParams({{"ef", 10}}).ok());
    EXPECT_LT(SearchAll(*index, data, false).work[0].vectors_scanned,
              single.work[0].vectors_scanned);
  }
}

TEST(BaselineMethodsTest, FaissOpqFindsNeighboursWithMBytesPerVector) {
  const BenchData data = RandomData(Metric::kL2);
  BuildStats stats;
  std::unique_ptr<BuiltIndex> index =
      Build("faiss-opq", data, {{"m", 16}, {"opq_iters", 4}}, &stats);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(stats.bytes_per_vector["codes"], 16);
  EXPECT_EQ(stats.bytes_per_vector.count("full_vectors"), 0u);
  ASSERT_TRUE(index->SetSearchParams({}).ok());
  const Measured single = SearchAll(*index, data, false);
  EXPECT_GT(single.recall, 0.3);
  EXPECT_EQ(single.work[0].vectors_scanned, kRows);
  EXPECT_DOUBLE_EQ(single.work[0].flops, 256.0 * kDim + double(kRows) * 16);
  EXPECT_EQ(SearchAll(*index, data, true).ids, single.ids);
}

TEST(BaselineMethodsTest, CachedBuildsLoadAndSearchTheSame) {
  testing::TempDir dir;
  ASSERT_EQ(setenv(kBaselineCacheEnv, dir.path().c_str(), 1), 0);
  const BenchData data = RandomData(Metric::kL2);
  const std::vector<std::pair<std::string, Params>> builds = {
      {"faiss-ivf", {{"nlist", 32}}},
      {"faiss-opq", {{"m", 8}, {"opq_iters", 2}}},
      {"hnswlib", {{"M", 8}, {"ef_construction", 40}}}};
  for (const auto& [method, build] : builds) {
    BuildStats first_stats;
    std::unique_ptr<BuiltIndex> first = Build(method, data, build, &first_stats);
    ASSERT_NE(first, nullptr);
    BuildStats second_stats;
    std::unique_ptr<BuiltIndex> second = Build(method, data, build, &second_stats);
    ASSERT_NE(second, nullptr);
    // The original build's times come back with the cached index.
    EXPECT_EQ(second_stats.encode_s, first_stats.encode_s) << method;
    EXPECT_EQ(second_stats.bytes_per_vector, first_stats.bytes_per_vector) << method;
    const Params search = method == "faiss-ivf" ? Params{{"nprobe", 4}}
                          : method == "hnswlib" ? Params{{"ef", 32}}
                                                : Params{};
    ASSERT_TRUE(first->SetSearchParams(search).ok());
    ASSERT_TRUE(second->SetSearchParams(search).ok());
    EXPECT_EQ(SearchAll(*first, data, false).ids, SearchAll(*second, data, false).ids) << method;
  }
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    files += entry.path().extension() == ".index";
  }
  EXPECT_EQ(files, 3u);
  unsetenv(kBaselineCacheEnv);
}

}  // namespace
}  // namespace adanns::bench
