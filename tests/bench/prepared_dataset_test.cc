#include "bench/datasets/prepared_dataset.h"

#include <fstream>
#include <sstream>
#include <string>

#include "client/readers/npy_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

PreparedDataset Small() {
  PreparedDataset dataset;
  dataset.name = "tiny \"set\"";
  dataset.distance = "euclidean";
  dataset.base = ZeroMatrix<float>(4, 3);
  for (size_t i = 0; i < dataset.base.values.size(); ++i) dataset.base.values[i] = 0.5f * i;
  dataset.queries = ZeroMatrix<float>(2, 3);
  dataset.queries.values = {1, 2, 3, 4, 5, 6};
  dataset.groundtruth = ZeroMatrix<int32_t>(2, 2);
  dataset.groundtruth.values = {3, 1, 0, 2};
  dataset.source_files = {"/src/a.gz", "/src/b.gz"};
  dataset.transform = "none";
  return dataset;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PreparedDatasetTest, WritesAndReadsBack) {
  testing::TempDir dir;
  const std::string out = dir.path() + "/nested/prepared";
  const PreparedDataset dataset = Small();
  ASSERT_TRUE(WritePreparedDataset(dataset, out).ok());

  absl::StatusOr<PreparedDataset> loaded = ReadPreparedDataset(out, /*with_groundtruth=*/true);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->base.rows, 4u);
  EXPECT_EQ(loaded->base.cols, 3u);
  EXPECT_EQ(loaded->base.values, dataset.base.values);
  EXPECT_EQ(loaded->queries.values, dataset.queries.values);
  EXPECT_THAT(loaded->groundtruth.values, ElementsAre(3, 1, 0, 2));

  const std::string info = Slurp(out + "/info.json");
  EXPECT_THAT(info, HasSubstr("\"dataset\": \"tiny \\\"set\\\"\""));
  EXPECT_THAT(info, HasSubstr("\"n\": 4"));
  EXPECT_THAT(info, HasSubstr("\"dim\": 3"));
  EXPECT_THAT(info, HasSubstr("\"queries\": 2"));
  EXPECT_THAT(info, HasSubstr("\"gt_k\": 2"));
  EXPECT_THAT(info, HasSubstr("[\"/src/a.gz\", \"/src/b.gz\"]"));
}

TEST(PreparedDatasetTest, RejectsGroundTruthOutsideTheBase) {
  testing::TempDir dir;
  PreparedDataset dataset = Small();
  dataset.groundtruth.values[3] = 4;
  ASSERT_TRUE(WritePreparedDataset(dataset, dir.path()).ok());
  absl::StatusOr<PreparedDataset> loaded = ReadPreparedDataset(dir.path(), true);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr("names row 4"));
  EXPECT_TRUE(ReadPreparedDataset(dir.path(), /*with_groundtruth=*/false).ok());
}

TEST(PreparedDatasetTest, RejectsQueriesOfAnotherWidth) {
  testing::TempDir dir;
  ASSERT_TRUE(WritePreparedDataset(Small(), dir.path()).ok());
  const float wide[4] = {1, 2, 3, 4};
  ASSERT_TRUE(readers::WriteNpy(dir.path() + "/queries.npy", 1, 4, wide).ok());
  EXPECT_THAT(ReadPreparedDataset(dir.path(), false).status().message(),
              HasSubstr("queries.npy 4"));
}

TEST(PreparedDatasetTest, MissingFolderFails) {
  EXPECT_FALSE(ReadPreparedDataset("/nonexistent/prepared", false).ok());
}

}  // namespace
}  // namespace adanns::bench
