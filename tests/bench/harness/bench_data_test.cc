#include "bench/harness/bench_data.h"

#include <fstream>
#include <string>
#include <vector>

#include "bench/datasets/prepared_dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bench/harness/ann_hdf5_file.h"
#include "tests/common/temp_dir.h"

namespace adanns::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

PreparedDataset SmallPrepared(const std::string& distance) {
  PreparedDataset dataset;
  dataset.name = "tiny";
  dataset.distance = distance;
  dataset.base = ZeroMatrix<float>(4, 2);
  dataset.base.values = {0, 0, 1, 0, 0, 1, 1, 1};
  dataset.queries = ZeroMatrix<float>(3, 2);
  dataset.queries.values = {0.1f, 0, 0.9f, 0.1f, 0.9f, 0.9f};
  dataset.groundtruth = ZeroMatrix<int32_t>(3, 2);
  dataset.groundtruth.values = {0, 1, 1, 3, 3, 1};
  return dataset;
}

// 5 train rows, 2 test rows, top-2 `neighbors`.
void WriteSmallHdf5(const std::string& path, const std::string& distance,
                    const std::vector<int32_t>& neighbors) {
  FloatMatrix train = ZeroMatrix<float>(5, 2);
  train.values = {0, 0, 1, 0, 0, 1, 1, 1, 2, 2};
  FloatMatrix test = ZeroMatrix<float>(2, 2);
  test.values = {0.1f, 0, 0.9f, 0.9f};
  Int32Matrix truth = ZeroMatrix<int32_t>(2, 2);
  truth.values = neighbors;
  WriteAnnBenchmarksHdf5(path, distance, train, test, truth);
}

TEST(LoadBenchDataTest, PreparedFolderWithInfoJson) {
  testing::TempDir dir;
  ASSERT_TRUE(WritePreparedDataset(SmallPrepared("angular"), dir.path()).ok());
  absl::StatusOr<BenchData> data = LoadBenchData(dir.path(), 2);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->name, "tiny");
  EXPECT_EQ(data->metric, Metric::kCosine);
  EXPECT_EQ(data->base.rows, 4u);
  EXPECT_EQ(data->queries.rows, 2u);
  EXPECT_EQ(data->groundtruth.rows, 2u);
  EXPECT_THAT(data->groundtruth.values, ElementsAre(0, 1, 1, 3));
}

TEST(LoadBenchDataTest, PreparedFolderWithoutInfoJsonIsEuclidean) {
  testing::TempDir dir;
  const std::string folder = dir.path() + "/my-set";
  ASSERT_TRUE(WritePreparedDataset(SmallPrepared("angular"), folder).ok());
  std::remove((folder + "/info.json").c_str());
  absl::StatusOr<BenchData> data = LoadBenchData(folder, 0);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->name, "my-set");
  EXPECT_EQ(data->metric, Metric::kL2);
  EXPECT_EQ(data->queries.rows, 3u);
}

TEST(LoadBenchDataTest, PreparedFolderWithAnUnknownDistance) {
  testing::TempDir dir;
  ASSERT_TRUE(WritePreparedDataset(SmallPrepared("hamming"), dir.path()).ok());
  absl::StatusOr<BenchData> data = LoadBenchData(dir.path(), 0);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("'hamming'"));
}

TEST(LoadBenchDataTest, AnnBenchmarksHdf5BothDistances) {
  testing::TempDir dir;
  for (const std::string distance : {"euclidean", "angular"}) {
    const std::string path = dir.path() + "/set-" + distance + ".hdf5";
    WriteSmallHdf5(path, distance, {0, 1, 3, 2});
    absl::StatusOr<BenchData> data = LoadBenchData(path, 0);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(data->name, "set-" + distance);
    EXPECT_EQ(data->metric, distance == "angular" ? Metric::kCosine : Metric::kL2);
    EXPECT_EQ(data->base.rows, 5u);
    EXPECT_EQ(data->base.cols, 2u);
    EXPECT_THAT(data->queries.values, ElementsAre(0.1f, 0.0f, 0.9f, 0.9f));
    EXPECT_THAT(data->groundtruth.values, ElementsAre(0, 1, 3, 2));
  }
  absl::StatusOr<BenchData> first = LoadBenchData(dir.path() + "/set-euclidean.hdf5", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->queries.rows, 1u);
  EXPECT_EQ(first->groundtruth.rows, 1u);
}

TEST(LoadBenchDataTest, Hdf5Errors) {
  testing::TempDir dir;
  const std::string jaccard = dir.path() + "/jaccard.hdf5";
  WriteSmallHdf5(jaccard, "jaccard", {0, 1, 3, 2});
  EXPECT_EQ(LoadBenchData(jaccard, 0).status().code(), absl::StatusCode::kInvalidArgument);

  const std::string out_of_range = dir.path() + "/bad.hdf5";
  WriteSmallHdf5(out_of_range, "euclidean", {0, 1, 3, 5});
  absl::StatusOr<BenchData> bad = LoadBenchData(out_of_range, 0);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("names row 5 of 5"));

  const std::string text = dir.path() + "/set.txt";
  std::ofstream(text) << "not data";
  EXPECT_EQ(LoadBenchData(text, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(LoadBenchData(dir.path() + "/missing.hdf5", 0).ok());
}

}  // namespace
}  // namespace adanns::bench
