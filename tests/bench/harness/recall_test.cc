#include "bench/harness/recall.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

TEST(RecallAtKTest, CountsTheOverlapWithTheTruthsFirstK) {
  const std::vector<int32_t> truth = {3, 2, 1, 7, 8};
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{1, 2, 3}.data(), truth.data(), 3), 1.0);
  // Neighbours 4 and 5 of the truth lie beyond k = 3: they do not count.
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{7, 8, 3}.data(), truth.data(), 3), 1.0 / 3);
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{9, 10, 11}.data(), truth.data(), 3), 0.0);
}

TEST(RecallAtKTest, PaddingNeverMatches) {
  const std::vector<int32_t> truth = {0, 1, 2};
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{0, -1, -1}.data(), truth.data(), 3), 1.0 / 3);
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{-1, -1, -1}.data(), truth.data(), 3), 0.0);
}

TEST(RecallAtKTest, DuplicatesCountOnce) {
  const std::vector<int32_t> truth = {5, 6, 7, 8};
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{5, 5, 5, 5}.data(), truth.data(), 4), 0.25);
  EXPECT_DOUBLE_EQ(RecallAtK(std::vector<int64_t>{6, 5, 6, 8}.data(), truth.data(), 4), 0.75);
}

TEST(PercentileTest, NearestRank) {
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  EXPECT_DOUBLE_EQ(Percentile(values, 0.50), 50);
  EXPECT_DOUBLE_EQ(Percentile(values, 0.99), 99);
  EXPECT_DOUBLE_EQ(Percentile(values, 1.0), 100);
  EXPECT_DOUBLE_EQ(Percentile(values, 0.0), 1);
  EXPECT_DOUBLE_EQ(Percentile({7}, 0.99), 7);
  EXPECT_TRUE(std::isnan(Percentile({}, 0.5)));
}

}  // namespace
}  // namespace adanns::bench
