// TopK: the k best by distance, and among equal distances the lowest rows, whatever order the
// rows are pushed in (the GPU's selection orders by (key, row) and agrees with it).
#include "index/topk.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::index {
namespace {

TEST(TopKTest, TiesKeepTheLowestRowsInAnyPushOrder) {
  // 40 rows at distance 1, 10 at distance 0.5, 50 at distance 2.
  std::vector<ScoredRow> entries;
  for (RowId row = 0; row < 100; ++row) {
    entries.push_back({row < 40 ? 1.0f : (row < 50 ? 0.5f : 2.0f), row});
  }
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::shuffle(entries.begin(), entries.end(), rng);
    TopK top(15);
    for (const ScoredRow& entry : entries) top.Push(entry.distance, entry.row);
    const std::vector<ScoredRow> best = top.TakeSorted();
    ASSERT_EQ(best.size(), 15u);
    for (size_t i = 0; i < 10; ++i) {
      EXPECT_EQ(best[i].distance, 0.5f);
      EXPECT_EQ(best[i].row, 40 + i);
    }
    for (size_t i = 10; i < 15; ++i) {
      EXPECT_EQ(best[i].distance, 1.0f);
      EXPECT_EQ(best[i].row, i - 10) << "trial " << trial;
    }
  }
}

TEST(TopKTest, NanDistancesRankLastByRowAndNeverBlockBetterOnes) {
  // What an overflowed inner product gives (inf + -inf): NaN of either sign, pushed first so
  // that the threshold is NaN while better rows arrive.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  TopK top(4);
  for (RowId row : {9u, 3u, 7u}) {
    const float distance = row == 3 ? -nan : nan;
    if (TopK::Admits(distance, top.threshold())) top.Push(distance, row);
  }
  for (RowId row : {20u, 21u}) {
    if (TopK::Admits(1.0f, top.threshold())) top.Push(1.0f, row);
  }
  if (TopK::Admits(std::numeric_limits<float>::infinity(), top.threshold())) {
    top.Push(std::numeric_limits<float>::infinity(), 30);
  }
  EXPECT_FALSE(TopK::Admits(2.0f, 1.0f));
  const std::vector<ScoredRow> best = top.TakeSorted();
  ASSERT_EQ(best.size(), 4u);
  EXPECT_EQ(best[0].row, 20u);
  EXPECT_EQ(best[1].row, 21u);
  EXPECT_EQ(best[2].row, 30u);
  EXPECT_EQ(best[2].distance, std::numeric_limits<float>::infinity());
  EXPECT_EQ(best[3].row, 3u);  // the lowest NaN row
  EXPECT_TRUE(std::isnan(best[3].distance));
}

}  // namespace
}  // namespace adanns::index
