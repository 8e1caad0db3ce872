#include "bench/datasets/ground_truth.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

FloatMatrix Uniform(uint64_t rows, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pixel(0, 255);
  FloatMatrix out = ZeroMatrix<float>(rows, dim);
  for (float& value : out.values) value = static_cast<float>(pixel(rng));
  return out;
}

TEST(GroundTruthTest, MatchesBruteForceWithTiesByLowerIndex) {
  FloatMatrix base = Uniform(3000, 24, 3);
  FloatMatrix queries = Uniform(40, 24, 4);
  // Exact duplicates of row 10 must come back in index order.
  for (uint64_t copy : {2500u, 700u}) {
    std::copy(base.row(10), base.row(10) + 24, base.values.begin() + copy * 24);
  }
  std::copy(base.row(10), base.row(10) + 24, queries.values.begin());  // query 0 on them

  absl::StatusOr<GroundTruth> truth = ExactL2GroundTruth(base, queries, 15);
  ASSERT_TRUE(truth.ok()) << truth.status();
  ASSERT_EQ(truth->neighbors.rows, 40u);
  ASSERT_EQ(truth->neighbors.cols, 15u);
  for (uint64_t q = 0; q < queries.rows; ++q) {
    std::vector<std::pair<double, int32_t>> all;
    for (uint64_t i = 0; i < base.rows; ++i) {
      double sum = 0;
      for (int j = 0; j < 24; ++j) {
        const double diff = double{queries.row(q)[j]} - base.row(i)[j];
        sum += diff * diff;
      }
      all.emplace_back(sum, static_cast<int32_t>(i));
    }
    std::sort(all.begin(), all.end());
    for (int r = 0; r < 15; ++r) {
      EXPECT_EQ(truth->neighbors.row(q)[r], all[r].second) << "query " << q << " rank " << r;
      EXPECT_EQ(truth->squared_distances.row(q)[r], all[r].first);
    }
  }
  EXPECT_EQ(truth->neighbors.row(0)[0], 10);
  EXPECT_EQ(truth->neighbors.row(0)[1], 700);
  EXPECT_EQ(truth->neighbors.row(0)[2], 2500);
}

TEST(GroundTruthTest, KAsLargeAsTheBaseScansEverything) {
  const FloatMatrix base = Uniform(30, 8, 5);
  const FloatMatrix queries = Uniform(3, 8, 6);
  absl::StatusOr<GroundTruth> truth = ExactL2GroundTruth(base, queries, 30);
  ASSERT_TRUE(truth.ok()) << truth.status();
  std::vector<int32_t> ids(truth->neighbors.row(1), truth->neighbors.row(1) + 30);
  std::sort(ids.begin(), ids.end());
  for (int32_t i = 0; i < 30; ++i) EXPECT_EQ(ids[i], i);
}

TEST(GroundTruthTest, RejectsBadShapes) {
  const FloatMatrix base = Uniform(30, 8, 5);
  EXPECT_EQ(ExactL2GroundTruth(base, Uniform(3, 7, 6), 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExactL2GroundTruth(base, Uniform(3, 8, 6), 31).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExactL2GroundTruth(base, Uniform(3, 8, 6), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adanns::bench
