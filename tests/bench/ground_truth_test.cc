#include "bench/datasets/ground_truth.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
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

// Rows of `base` served chunk by chunk through scratch copies, counting the rows read in chunks.
RowChunkSource Streamed(const FloatMatrix& base, uint64_t* chunk_rows_read) {
  return [&base, chunk_rows_read](uint64_t first, uint64_t count, std::vector<float>& scratch) {
    if (count > 1) *chunk_rows_read += count;
    scratch.assign(base.row(first), base.row(first) + count * base.cols);
    return static_cast<const float*>(scratch.data());
  };
}

void ExpectSameTruth(const GroundTruth& a, const GroundTruth& b) {
  EXPECT_EQ(a.neighbors.values, b.neighbors.values);
  EXPECT_EQ(a.squared_distances.values, b.squared_distances.values);
}

TEST(GroundTruthTest, StreamedInChunksMatchesInMemory) {
  const FloatMatrix base = Uniform(5000, 32, 11);
  const FloatMatrix queries = Uniform(25, 32, 12);
  absl::StatusOr<GroundTruth> whole = ExactL2GroundTruth(base, queries, 20);
  ASSERT_TRUE(whole.ok()) << whole.status();
  uint64_t read = 0;
  StreamedTruthOptions options;
  options.rows_per_chunk = 777;  // leaves a short last chunk (5000 = 6 x 777 + 338)
  absl::StatusOr<GroundTruth> streamed =
      StreamedL2GroundTruth(base.rows, base.cols, Streamed(base, &read), queries, 20, options);
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  ExpectSameTruth(*whole, *streamed);
  EXPECT_EQ(read, base.rows);
  // Chunks smaller than the shortlist (40 rows) still keep every query's best rows.
  options.rows_per_chunk = 13;
  streamed =
      StreamedL2GroundTruth(base.rows, base.cols, Streamed(base, &read), queries, 20, options);
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  ExpectSameTruth(*whole, *streamed);
}

TEST(GroundTruthTest, StreamedPassResumesFromItsCheckpoint) {
  const FloatMatrix base = Uniform(4000, 16, 21);
  const FloatMatrix queries = Uniform(10, 16, 22);
  absl::StatusOr<GroundTruth> whole = ExactL2GroundTruth(base, queries, 10);
  ASSERT_TRUE(whole.ok()) << whole.status();
  const std::string checkpoint =
      (std::filesystem::path(::testing::TempDir()) / "truth_resume.ckpt").string();
  std::filesystem::remove(checkpoint);
  StreamedTruthOptions options;
  options.rows_per_chunk = 500;
  options.checkpoint_path = checkpoint;
  options.checkpoint_every = 100;  // only a stop saves
  // Runs the pass over `q` stopping after `stop_after` rows (0: to the end); `read` counts the
  // rows it streamed.
  uint64_t read = 0;
  auto run = [&](const FloatMatrix& q, uint64_t stop_after) {
    read = 0;
    options.stop_after_rows = stop_after;
    return StreamedL2GroundTruth(base.rows, base.cols, Streamed(base, &read), q, 10, options);
  };
  EXPECT_EQ(run(queries, 1500).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(read, 1500u);
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  EXPECT_EQ(run(queries, 2000).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(read, 500u);  // resumed at row 1500

  // Other queries do not resume this checkpoint's shortlists: they start at row 0.
  EXPECT_EQ(run(Uniform(10, 16, 23), 500).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(read, 500u);

  // That run replaced the checkpoint, so these queries start over: stop at 1500 again, resume.
  ASSERT_EQ(run(queries, 1500).status().code(), absl::StatusCode::kCancelled);
  absl::StatusOr<GroundTruth> resumed = run(queries, 0);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(read, 2500u);  // rows 1500..3999 only
  ExpectSameTruth(*whole, *resumed);
  EXPECT_FALSE(std::filesystem::exists(checkpoint));  // removed when complete
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
