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

// Four base rows on a line: 0 at 0, 1 and 2 both at 1 (a duplicate pair), 3 at 5.
FloatMatrix LineBase() {
  FloatMatrix base = ZeroMatrix<float>(4, 2);
  const float xs[] = {0.0f, 1.0f, 1.0f, 5.0f};
  for (size_t i = 0; i < 4; ++i) base.values[i * 2] = xs[i];
  return base;
}

TEST(DistanceRecallAtKTest, ATiedDuplicateOfATrueNeighbourIsNotAMiss) {
  const FloatMatrix base = LineBase();
  const float query[] = {0.0f, 0.0f};
  const std::vector<int32_t> truth = {0, 1, 2, 3};  // row 2 ties row 1 at distance 1
  // Returning the duplicate (2) instead of the truth's row 1: id-recall misses, distance does not.
  const std::vector<int64_t> returned = {0, 2};
  EXPECT_DOUBLE_EQ(RecallAtK(returned.data(), truth.data(), 2), 0.5);
  EXPECT_DOUBLE_EQ(DistanceRecallAtK(returned.data(), truth.data(), 2, query, base, Metric::kL2),
                   1.0);
  // A row beyond the k-th true distance (+ epsilon) is a miss; padding and repeats never count.
  const std::vector<int64_t> far = {0, 3};
  EXPECT_DOUBLE_EQ(DistanceRecallAtK(far.data(), truth.data(), 2, query, base, Metric::kL2), 0.5);
  const std::vector<int64_t> padded = {0, -1};
  EXPECT_DOUBLE_EQ(DistanceRecallAtK(padded.data(), truth.data(), 2, query, base, Metric::kL2),
                   0.5);
  const std::vector<int64_t> repeated = {0, 0};
  EXPECT_DOUBLE_EQ(DistanceRecallAtK(repeated.data(), truth.data(), 2, query, base, Metric::kL2),
                   0.5);
}

TEST(DistanceRecallAtKTest, EpsilonIsInTheMetricsOwnUnits) {
  FloatMatrix base = LineBase();
  base.values[3 * 2] = 1.0005f;  // row 3 now 0.0005 beyond the 2nd true distance
  const float query[] = {0.0f, 0.0f};
  const std::vector<int32_t> truth = {0, 1, 2, 3};
  const std::vector<int64_t> returned = {0, 3};
  EXPECT_DOUBLE_EQ(DistanceRecallAtK(returned.data(), truth.data(), 2, query, base, Metric::kL2),
                   1.0);  // within 1e-3 of Euclidean distance 1
  EXPECT_DOUBLE_EQ(
      DistanceRecallAtK(returned.data(), truth.data(), 2, query, base, Metric::kL2, 1e-4), 0.5);
}

TEST(TrueDistanceTest, UsesAnnBenchmarksUnits) {
  const float a[] = {3.0f, 0.0f};
  const float b[] = {0.0f, 4.0f};
  EXPECT_DOUBLE_EQ(TrueDistance(a, b, 2, Metric::kL2), 5.0);  // not squared
  EXPECT_DOUBLE_EQ(TrueDistance(a, b, 2, Metric::kCosine), 1.0);
  EXPECT_DOUBLE_EQ(TrueDistance(a, a, 2, Metric::kCosine), 0.0);
  EXPECT_DOUBLE_EQ(TrueDistance(a, a, 2, Metric::kInnerProduct), -9.0);
}

}  // namespace
}  // namespace adanns::bench
