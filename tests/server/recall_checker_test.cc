// The online recall check: sampled searches are re-run exactly in the background; a weak graph
// plan's recall is measured below its target (a miss), exact search's at 1; a full queue skips
// rather than blocks, and nothing is checked at fraction 0. Its exact truth (scanned in short
// holds, Collection::ExactNearestIds) equals a brute-force ranking, at full and prefix dims, after
// deletes and row reuse, and on an fp16 resident prefix (re-ranked from storage).
#include "server/recall_checker.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <span>
#include <thread>

#include "gtest/gtest.h"
#include "server/engine.h"
#include "tests/common/temp_dir.h"

namespace adanns::server {
namespace {

constexpr uint32_t kDim = 16;

class RecallCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CollectionOptions options;
    options.auto_calibrate = false;
    auto engine = Engine::Open(dir_.path(), {}, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    storage::CollectionMeta meta;
    meta.name = "checked";
    meta.dim = kDim;
    meta.metric = Metric::kL2;
    auto created = engine_->CreateCollection(meta);
    ASSERT_TRUE(created.ok());
    collection_ = *created;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    std::vector<uint64_t> ids;
    for (uint64_t id = 0; id < 3000; ++id) {
      ids.push_back(id);
      for (uint32_t j = 0; j < kDim; ++j) rows_.push_back(normal(rng));
    }
    ASSERT_TRUE(collection_->Upsert(ids, rows_).ok());
    ASSERT_TRUE(collection_
                    ->StartBuild(
                        MakeHnswBuild({.graph_dims = 4, .m = 4, .ef_construction = 8}, Metric::kL2))
                    .ok());
    for (int attempt = 0; attempt < 3000; ++attempt) {
      bool ready = false;
      for (const IndexStatus& status : collection_->Indexes()) {
        ready |= status.name == "hnsw" && status.state == "ready";
      }
      if (ready) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "the graph was not built";
  }

  // Searches 50 random queries with `plan` and offers them to `checker` with `budget`.
  void SearchAndOffer(RecallChecker& checker, const index::Plan& plan,
                      const index::Budget& offered) {
    std::mt19937 rng(8);
    std::normal_distribution<float> normal;
    std::vector<float> queries(50 * kDim);
    for (float& x : queries) x = normal(rng);
    index::Budget budget;
    budget.plan = plan;
    auto outcome = collection_->Search(queries, kDim, 50, 10, budget, SearchDevice::kCpu, nullptr);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    checker.Offer(collection_, queries, kDim, 10, offered, *outcome);
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<Collection> collection_;
  std::vector<float> rows_;
  Metrics metrics_;
};

TEST_F(RecallCheckerTest, WeakPlansMissTheirTargetExactSearchDoesNot) {
  RecallChecker checker(1.0, 64, &metrics_);
  index::Plan weak;  // a 4-dim graph, beam 10, no re-rank: far from recall 0.99
  weak.index = "hnsw";
  weak.ef = 10;
  index::Budget target;
  target.target_recall = 0.99f;
  SearchAndOffer(checker, weak, target);
  ASSERT_TRUE(checker.Drain(std::chrono::seconds(60)));
  EXPECT_EQ(checker.checked(), 50u);
  const std::optional<double> weak_recall = checker.ObservedRecall("checked", "hnsw");
  ASSERT_TRUE(weak_recall.has_value());
  EXPECT_LT(*weak_recall, 0.9);
  EXPECT_GT(checker.target_misses(), 25u);
  index::Plan exact;
  exact.index = "flat";
  SearchAndOffer(checker, exact, target);
  ASSERT_TRUE(checker.Drain(std::chrono::seconds(60)));
  EXPECT_EQ(checker.ObservedRecall("checked", "flat"), 1.0);
  EXPECT_EQ(checker.checked(), 100u);
}

TEST_F(RecallCheckerTest, AFullQueueSkipsAndFractionZeroChecksNothing) {
  RecallChecker off(0.0, 64, &metrics_);
  index::Plan exact;
  exact.index = "flat";
  SearchAndOffer(off, exact, {});
  EXPECT_TRUE(off.Drain(std::chrono::seconds(1)));
  EXPECT_EQ(off.checked(), 0u);
  RecallChecker small(1.0, 4, &metrics_);
  SearchAndOffer(small, exact, {});  // 50 sampled at once, at most 4 wait: the rest are skipped
  ASSERT_TRUE(small.Drain(std::chrono::seconds(60)));
  EXPECT_GE(small.checked(), 4u);
  EXPECT_GT(small.skipped(), 0u);
  EXPECT_EQ(small.checked() + small.skipped(), 50u);
}

// The ids of the k rows of `rows` (kDim floats each, id = position) nearest to the first `dims`
// of `query`, ranked in double precision; ids absent from `live` are skipped.
std::vector<uint64_t> BruteForce(const std::vector<float>& rows, const std::vector<bool>& live,
                                 const float* query, uint32_t dims, size_t k) {
  std::vector<std::pair<double, uint64_t>> ranked;
  for (uint64_t id = 0; id < live.size(); ++id) {
    if (!live[id]) continue;
    double distance = 0;
    for (uint32_t j = 0; j < dims; ++j) {
      const double diff = double(rows[id * kDim + j]) - double(query[j]);
      distance += diff * diff;
    }
    ranked.emplace_back(distance, id);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) ids.push_back(ranked[i].second);
  return ids;
}

TEST_F(RecallCheckerTest, ExactTruthInShortHoldsIsTheBruteForceRanking) {
  // 3000 rows: two holds of kExactRowsPerHold (2048) rows.
  static_assert(kExactRowsPerHold < 3000);
  std::vector<bool> live(3000, true);
  // Delete every seventh id, then write 200 new ids into the freed rows and past the end.
  std::vector<uint64_t> deleted;
  for (uint64_t id = 0; id < 3000; id += 7) deleted.push_back(id);
  ASSERT_TRUE(collection_->Delete(deleted).ok());
  for (uint64_t id : deleted) live[id] = false;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<uint64_t> fresh_ids;
  std::vector<float> fresh_rows;
  for (uint64_t id = 3000; id < 3200; ++id) {
    fresh_ids.push_back(id);
    for (uint32_t j = 0; j < kDim; ++j) fresh_rows.push_back(normal(rng));
  }
  ASSERT_TRUE(collection_->Upsert(fresh_ids, fresh_rows).ok());
  rows_.insert(rows_.end(), fresh_rows.begin(), fresh_rows.end());
  live.resize(3200, true);
  for (int q = 0; q < 20; ++q) {
    std::vector<float> query(kDim);
    for (float& x : query) x = normal(rng);
    for (const uint32_t dims : {kDim, 8u}) {
      for (const uint32_t k : {1u, 10u, 100u}) {
        auto exact = collection_->ExactNearestIds({query.data(), dims}, k);
        ASSERT_TRUE(exact.ok()) << exact.status();
        EXPECT_EQ(*exact, BruteForce(rows_, live, query.data(), dims, k))
            << "query " << q << ", dims " << dims << ", k " << k;
      }
    }
  }
  std::vector<float> too_long(kDim + 1, 0.0f);
  EXPECT_EQ(collection_->ExactNearestIds(too_long, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(collection_->ExactNearestIds({}, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto none = collection_->ExactNearestIds(std::span<const float>(too_long).first(kDim), 0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_F(RecallCheckerTest, ExactTruthOnAnFp16PrefixIsRerankedFromStorage) {
  storage::CollectionMeta meta;
  meta.name = "fp16";
  meta.dim = kDim;
  meta.metric = Metric::kL2;
  meta.resident_precision = storage::ResidentPrecision::kFloat16;
  auto created = engine_->CreateCollection(meta);
  ASSERT_TRUE(created.ok()) << created.status();
  std::vector<uint64_t> ids(3000);
  std::iota(ids.begin(), ids.end(), 0);
  ASSERT_TRUE((*created)->Upsert(ids, rows_).ok());
  const std::vector<bool> live(3000, true);
  std::mt19937 rng(12);
  std::normal_distribution<float> normal;
  for (int q = 0; q < 20; ++q) {
    std::vector<float> query(kDim);
    for (float& x : query) x = normal(rng);
    auto exact = (*created)->ExactNearestIds(query, 10);
    ASSERT_TRUE(exact.ok()) << exact.status();
    EXPECT_EQ(*exact, BruteForce(rows_, live, query.data(), kDim, 10)) << "query " << q;
  }
}

}  // namespace
}  // namespace adanns::server
