// AdANNS-IVF on seeded clustered data: probing every list is exact, IVF-D slicing, writes after
// the build, serialization round trip and corruption, plan validation, cancellation.
#include "index/ivf_index.h"

#include <algorithm>
#include <random>
#include <set>

#include "gtest/gtest.h"
#include "index/flat_search.h"
#include "tests/index/clustered_data.h"

namespace adanns::index {
namespace {

constexpr uint32_t kDim = 32;
constexpr size_t kVectors = 3000;

class IvfIndexTest : public testing::TestWithParam<Metric> {
 protected:
  void SetUp() override {
    queries_ = FillClustered(table_, kVectors, 20).queries;
    IvfBuildParams params;
    params.nlist = 40;
    params.coarse_dims = 16;
    params.search_dims = 24;
    params.kmeans_iterations = 10;
    auto built = IvfIndex::Build(table_, GetParam(), params);
    ASSERT_TRUE(built.ok()) << built.status();
    ivf_ = std::move(*built);
  }

  std::vector<uint64_t> Ids(const SearchResult& result) {
    std::vector<uint64_t> ids;
    for (const Hit& h : result.hits) ids.push_back(h.id);
    return ids;
  }

  SearchResult RunIvf(const std::vector<float>& query, Plan plan, uint32_t k = 10) {
    absl::StatusOr<Plan> resolved = ivf_->ResolvePlan(plan, k);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    return ivf_->Search(table_, query, k, *resolved);
  }

  SearchResult RunExact(const std::vector<float>& query, uint32_t k = 10) {
    return FlatSearch(table_, GetParam(), query, k, *ResolveFlatPlan({}, kDim, k));
  }

  VectorTable table_{kDim};
  std::vector<std::vector<float>> queries_;
  std::unique_ptr<IvfIndex> ivf_;
};

TEST_P(IvfIndexTest, EveryListAndFullRerankIsExact) {
  Plan plan;
  plan.nprobe = 40;
  plan.rerank_candidates = kVectors;
  for (const auto& query : queries_) {
    const SearchResult ivf = RunIvf(query, plan);
    EXPECT_EQ(Ids(ivf), Ids(RunExact(query)));
    EXPECT_EQ(ivf.cost.vectors_scanned, kVectors);
    // Centroids at their stored prefix (unit for cosine: d per row); the lists and the re-rank
    // read raw rows (cosine: dot product and norm, 2d).
    const double raw = GetParam() == Metric::kCosine ? 2.0 : 1.0;
    EXPECT_DOUBLE_EQ(ivf.cost.mflops,
                     (16.0 * 40 + double(kVectors) * 24 * raw + kVectors * kDim * raw) / 1e6);
  }
}

TEST_P(IvfIndexTest, FewListsStillFindMostNeighbours) {
  double hits = 0;
  Plan plan;
  plan.nprobe = 6;
  for (const auto& query : queries_) {
    const auto exact = Ids(RunExact(query));
    const std::set<uint64_t> truth(exact.begin(), exact.end());
    const SearchResult ivf = RunIvf(query, plan);
    EXPECT_LT(ivf.cost.vectors_scanned, kVectors / 2);
    for (uint64_t id : Ids(ivf)) hits += truth.count(id);
  }
  EXPECT_GE(hits / (10.0 * queries_.size()), 0.9);
}

// IVF-D: centroids sliced to a shorter prefix at query time.
TEST_P(IvfIndexTest, SlicedCentroidsAreValid) {
  Plan plan;
  plan.coarse_dims = 4;
  plan.nprobe = 40;
  plan.rerank_candidates = kVectors;
  const SearchResult sliced = RunIvf(queries_[0], plan);
  EXPECT_EQ(*sliced.plan.coarse_dims, 4u);
  EXPECT_EQ(Ids(sliced), Ids(RunExact(queries_[0])));  // all lists probed: still exact
  plan.coarse_dims = 17;
  EXPECT_EQ(ivf_->ResolvePlan(plan, 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(IvfIndexTest, WritesAfterTheBuild) {
  Plan plan;
  plan.nprobe = 2;
  // The best match of a query: itself for L2, a long vector along it for inner product / cosine.
  auto best_match_of = [&](const std::vector<float>& query) {
    std::vector<float> v = query;
    if (GetParam() != Metric::kL2) {
      for (float& x : v) x *= 10.0f;
    }
    return v;
  };
  // A new vector is found at once.
  const RowId added = table_.Upsert(99999, best_match_of(queries_[3]));
  ivf_->Upsert(table_, added);
  EXPECT_EQ(RunIvf(queries_[3], plan).hits[0].id, 99999u);
  // Moved: found at its new vector, not at its old one.
  const RowId moved = table_.Upsert(99999, best_match_of(queries_[7]));
  ivf_->Upsert(table_, moved);
  EXPECT_EQ(RunIvf(queries_[7], plan).hits[0].id, 99999u);
  EXPECT_NE(RunIvf(queries_[3], plan).hits[0].id, 99999u);
  // Removed: never returned.
  const uint64_t victim = RunIvf(queries_[1], plan).hits[0].id;
  ivf_->Remove(*table_.RowOf(victim), victim);
  table_.Remove(victim);
  for (uint64_t id : Ids(RunIvf(queries_[1], plan, 50))) EXPECT_NE(id, victim);
  EXPECT_EQ(ivf_->stats().vectors, table_.size());
}

// The absorber's split insert (ranking under a shared hold, the move under the exclusive one)
// places a row where the whole insert does; a Prepare made before the row changed leaves it in the
// stale list until the change's own insert moves it.
TEST_P(IvfIndexTest, SplitInsertsPlaceRowsLikeWholeInserts) {
  Plan plan;
  plan.nprobe = 1;
  const float scale = GetParam() == Metric::kL2 ? 1.0f : 10.0f;
  auto scaled = [&](const std::vector<float>& query) {
    std::vector<float> v = query;
    for (float& x : v) x *= scale;
    return v;
  };
  const RowId added = table_.Upsert(99999, scaled(queries_[3]));
  std::unique_ptr<PreparedUpsert> work = ivf_->PrepareUpsertOfRow(table_, added);
  ASSERT_NE(work, nullptr);
  ivf_->ApplyUpsert(table_, added, std::move(work));
  EXPECT_EQ(RunIvf(queries_[3], plan).hits[0].id, 99999u);
  EXPECT_EQ(ivf_->stats().vectors, table_.size());

  std::unique_ptr<PreparedUpsert> stale = ivf_->PrepareUpsertOfRow(table_, added);
  const RowId moved = table_.Upsert(99999, scaled(queries_[7]));
  ASSERT_EQ(moved, added);
  ivf_->ApplyUpsert(table_, moved, std::move(stale));
  ivf_->ApplyUpsert(table_, moved, ivf_->PrepareUpsertOfRow(table_, moved));
  EXPECT_EQ(RunIvf(queries_[7], plan).hits[0].id, 99999u);
  EXPECT_EQ(ivf_->stats().vectors, table_.size());
}

TEST_P(IvfIndexTest, SerializationRoundTripAndCorruption) {
  const std::string blob = *ivf_->Serialize();
  auto loaded = IvfIndex::Deserialize(blob, table_, GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Plan plan;
  plan.nprobe = 3;
  for (const auto& query : queries_) {
    const Plan resolved = *ivf_->ResolvePlan(plan, 10);
    EXPECT_EQ(Ids((*loaded)->Search(table_, query, 10, resolved)), Ids(RunIvf(query, plan)));
  }
  std::string flipped = blob;
  flipped[blob.size() / 2] ^= 0x40;
  EXPECT_EQ(IvfIndex::Deserialize(flipped, table_, GetParam()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      IvfIndex::Deserialize(blob.substr(0, blob.size() - 9), table_, GetParam()).status().code(),
      absl::StatusCode::kDataLoss);
  const Metric other = GetParam() == Metric::kL2 ? Metric::kCosine : Metric::kL2;
  EXPECT_EQ(IvfIndex::Deserialize(blob, table_, other).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_P(IvfIndexTest, InvalidPlansAndBuilds) {
  Plan plan;
  plan.nprobe = 41;
  EXPECT_EQ(ivf_->ResolvePlan(plan, 10).status().code(), absl::StatusCode::kInvalidArgument);
  plan.nprobe = 4;
  plan.search_dims = 25;  // lists hold 24
  EXPECT_EQ(ivf_->ResolvePlan(plan, 10).status().code(), absl::StatusCode::kInvalidArgument);
  plan.search_dims = 24;
  plan.rerank_dims = 8;  // below search_dims
  EXPECT_EQ(ivf_->ResolvePlan(plan, 10).status().code(), absl::StatusCode::kInvalidArgument);

  IvfBuildParams too_many;
  too_many.nlist = kVectors + 1;
  EXPECT_EQ(IvfIndex::Build(table_, GetParam(), too_many).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::atomic<bool> cancel{true};
  EXPECT_EQ(IvfIndex::Build(table_, GetParam(), {}, nullptr, &cancel).status().code(),
            absl::StatusCode::kCancelled);
  VectorTable empty(kDim);
  EXPECT_EQ(IvfIndex::Build(empty, GetParam(), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(IvfIndexTest, DefaultsAndProgress) {
  std::vector<double> seen;
  auto built = IvfIndex::Build(table_, GetParam(), {}, [&](double f) { seen.push_back(f); });
  ASSERT_TRUE(built.ok());
  const IvfStats stats = (*built)->stats();
  EXPECT_EQ(stats.nlist, 219u);  // round(4 * sqrt(3000))
  EXPECT_EQ(stats.coarse_dims, kDim);
  EXPECT_EQ(stats.search_dims, kDim);
  EXPECT_EQ(stats.vectors, kVectors);
  ASSERT_FALSE(seen.empty());
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

INSTANTIATE_TEST_SUITE_P(Metrics, IvfIndexTest,
                         testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const testing::TestParamInfo<Metric>& param_info) {
                           return std::string(MetricName(param_info.param));
                         });

}  // namespace
}  // namespace adanns::index
