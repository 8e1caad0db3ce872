#include "bench/harness/frontier.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

std::vector<std::pair<double, double>> Pairs(const std::vector<RecallQps>& points) {
  std::vector<std::pair<double, double>> out;
  for (const RecallQps& point : points) out.emplace_back(point.recall, point.qps);
  return out;
}

TEST(ParetoFrontierTest, KeepsUndominatedPointsByAscendingRecall) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<RecallQps> points = {
      {0.9, 10},  {0.5, 100}, {0.6, 50},  // (0.6, 50) loses to (0.7, 80)
      {0.7, 80},  {0.9, 20},  {0.95, 5},  // (0.9, 10) loses to (0.9, 20)
      {nan, 1e9}, {0.99, 0},  {0.4, 90},  // unusable, zero QPS, and beaten by (0.5, 100)
  };
  EXPECT_THAT(Pairs(ParetoFrontier(points)),
              ::testing::ElementsAre(std::pair(0.5, 100.0), std::pair(0.7, 80.0),
                                     std::pair(0.9, 20.0), std::pair(0.95, 5.0)));
}

TEST(QpsOnFrontierTest, LogLinearBetweenNeighbours) {
  const std::vector<RecallQps> frontier = {{0.5, 100}, {0.7, 80}, {0.9, 20}, {0.95, 5}};
  const FrontierQps middle = QpsOnFrontier(frontier, 0.8);
  EXPECT_EQ(middle.coverage, Coverage::kInterpolated);
  EXPECT_NEAR(middle.qps, std::sqrt(80.0 * 20.0), 1e-9);  // halfway in log space
  const FrontierQps quarter = QpsOnFrontier(frontier, 0.9125);
  EXPECT_NEAR(quarter.qps, 20.0 * std::pow(5.0 / 20.0, 0.25), 1e-9);
  EXPECT_DOUBLE_EQ(QpsOnFrontier(frontier, 0.9).qps, 20);
  EXPECT_DOUBLE_EQ(QpsOnFrontier(frontier, 0.5).qps, 100);
  EXPECT_DOUBLE_EQ(QpsOnFrontier(frontier, 0.95).qps, 5);
}

TEST(QpsOnFrontierTest, OutsideTheFrontier) {
  const std::vector<RecallQps> frontier = {{0.5, 100}, {0.9, 20}};
  const FrontierQps below = QpsOnFrontier(frontier, 0.3);
  EXPECT_EQ(below.coverage, Coverage::kBelowFrontier);
  EXPECT_DOUBLE_EQ(below.qps, 100);
  EXPECT_EQ(QpsOnFrontier(frontier, 0.91).coverage, Coverage::kAboveFrontier);
  EXPECT_EQ(QpsOnFrontier({}, 0.5).coverage, Coverage::kAboveFrontier);
  // A single exact point (faiss-flat) covers exactly its own recall.
  EXPECT_EQ(QpsOnFrontier({{1.0, 30}}, 1.0).coverage, Coverage::kInterpolated);
  EXPECT_EQ(QpsOnFrontier({{1.0, 30}}, 0.9).coverage, Coverage::kBelowFrontier);
}

TEST(BestQpsAtRecallTest, FastestMeasuredPointAtOrAboveTheRecall) {
  const std::vector<RecallQps> points = {{0.85, 500}, {0.9, 200}, {0.97, 300}, {0.99, 50}};
  EXPECT_EQ(BestQpsAtRecall(points, 0.9), 300);
  EXPECT_EQ(BestQpsAtRecall(points, 0.98), 50);
  EXPECT_EQ(BestQpsAtRecall(points, 0.80), 500);
  EXPECT_FALSE(BestQpsAtRecall(points, 0.995).has_value());
}

}  // namespace
}  // namespace adanns::bench
