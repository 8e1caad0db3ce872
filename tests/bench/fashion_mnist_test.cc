// Runs the real preparation on the Debian package's files (skipped where it is not installed).
#include "bench/datasets/fashion_mnist.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

using ::testing::Contains;

TEST(FashionMnistTest, PreparesRotatedDataWithExactGroundTruth) {
  if (!std::filesystem::exists(std::string(kFashionMnistDefaultDir) +
                               "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  FashionMnistOptions options;
  options.queries = 25;
  options.gt_k = 10;
  std::vector<std::string> steps;
  absl::StatusOr<FashionMnistResult> result = PrepareFashionMnist(
      options, [&](std::string_view step, double) { steps.emplace_back(step); });
  ASSERT_TRUE(result.ok()) << result.status();
  const PreparedDataset& dataset = result->dataset;
  EXPECT_EQ(dataset.base.rows, 60000u);
  EXPECT_EQ(dataset.base.cols, 784u);
  EXPECT_EQ(dataset.queries.rows, 25u);
  EXPECT_EQ(dataset.groundtruth.rows, 25u);
  EXPECT_EQ(dataset.groundtruth.cols, 10u);
  EXPECT_THAT(steps, Contains("exact ground truth"));

  const FashionMnistChecks& checks = result->checks;
  EXPECT_EQ(checks.variance_order_violations, 0u);
  ASSERT_FALSE(checks.variance_fraction.empty());
  double previous = 0;
  for (const auto& [dims, fraction] : checks.variance_fraction) {
    EXPECT_GT(fraction, previous) << dims << " dims";
    previous = fraction;
  }
  EXPECT_NEAR(previous, 1.0, 1e-9);
  EXPECT_GE(checks.query0_neighbor, 0);
  EXPECT_NEAR(checks.query0_rotated_distance, checks.query0_pixel_distance,
              1e-4 * checks.query0_pixel_distance);
  EXPECT_LT(checks.max_distance_relative_error, 1e-4);
}

TEST(FashionMnistTest, ReportsMissingSourceAndBadOptions) {
  FashionMnistOptions options;
  options.source_dir = "/nonexistent";
  EXPECT_EQ(PrepareFashionMnist(options, nullptr).status().code(), absl::StatusCode::kNotFound);
  options = FashionMnistOptions();
  options.queries = 10001;
  EXPECT_EQ(PrepareFashionMnist(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.queries = 10;
  options.gt_k = 0;
  EXPECT_EQ(PrepareFashionMnist(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adanns::bench
