// TopK: the k best by distance, and among equal distances the lowest rows, whatever order the
// rows are pushed in (the GPU's selection orders by (key, row) and agrees with it).
#include "index/topk.h"

#include <algorithm>
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

}  // namespace
}  // namespace adanns::index
