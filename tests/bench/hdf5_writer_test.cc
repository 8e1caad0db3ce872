#include "bench/datasets/hdf5_writer.h"

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/datasets/angular.h"
#include "bench/datasets/ground_truth.h"
#include "bench/harness/bench_data.h"
#include "bench/harness/hdf5_int_matrix.h"
#include "client/readers/hdf5_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::bench {
namespace {

PreparedDataset RandomDataset(uint64_t n, uint32_t dim, uint32_t queries, uint32_t k) {
  std::mt19937 random(3);
  std::normal_distribution<float> normal;
  PreparedDataset dataset;
  dataset.name = "tiny";
  dataset.distance = "euclidean";
  dataset.base = ZeroMatrix<float>(n, dim);
  for (float& v : dataset.base.values) v = normal(random);
  dataset.queries = ZeroMatrix<float>(queries, dim);
  for (float& v : dataset.queries.values) v = normal(random);
  dataset.groundtruth = ExactL2GroundTruth(dataset.base, dataset.queries, k).value().neighbors;
  return dataset;
}

FloatMatrix ReadFloats(const std::string& path, const std::string& name) {
  auto reader = readers::Hdf5Reader::Open(path, name);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return {};
  FloatMatrix out = ZeroMatrix<float>((*reader)->rows(), (*reader)->dim());
  EXPECT_EQ((*reader)->Read(out.rows, out.values.data()).value(), out.rows);
  return out;
}

double Dot(const float* a, const float* b, uint32_t dim) {
  double sum = 0;
  for (uint32_t j = 0; j < dim; ++j) sum += static_cast<double>(a[j]) * b[j];
  return sum;
}

TEST(Hdf5WriterTest, EuclideanRoundTripsThroughTheReaders) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/tiny.hdf5";
  const PreparedDataset dataset = RandomDataset(300, 12, 7, 5);
  ASSERT_TRUE(WriteAnnBenchmarksHdf5(dataset, path).ok());

  EXPECT_EQ(readers::ReadHdf5Distance(path).value(), "euclidean");
  EXPECT_EQ(readers::ReadHdf5StringAttribute(path, "type").value(), "dense");
  const FloatMatrix train = ReadFloats(path, "train");
  EXPECT_EQ(train.rows, 300u);
  EXPECT_EQ(train.cols, 12u);
  EXPECT_EQ(train.values, dataset.base.values);
  EXPECT_EQ(ReadFloats(path, "test").values, dataset.queries.values);
  absl::StatusOr<Int32Matrix> neighbors = ReadHdf5Int32Matrix(path, "neighbors");
  ASSERT_TRUE(neighbors.ok()) << neighbors.status();
  EXPECT_EQ(neighbors->rows, 7u);
  EXPECT_EQ(neighbors->cols, 5u);
  EXPECT_EQ(neighbors->values, dataset.groundtruth.values);

  // ann-benchmarks stores the Euclidean distance itself, nearest first.
  const FloatMatrix distances = ReadFloats(path, "distances");
  ASSERT_EQ(distances.rows, 7u);
  for (uint64_t q = 0; q < 7; ++q) {
    for (uint64_t r = 0; r < 5; ++r) {
      const float* a = dataset.queries.row(q);
      const float* b = dataset.base.row(dataset.groundtruth.row(q)[r]);
      const double squared = Dot(a, a, 12) + Dot(b, b, 12) - 2 * Dot(a, b, 12);
      EXPECT_NEAR(distances.row(q)[r], std::sqrt(squared), 1e-4);
      if (r > 0) {
        EXPECT_LE(distances.row(q)[r - 1], distances.row(q)[r]);
      }
    }
  }

  // The harness loads it as any ann-benchmarks file.
  absl::StatusOr<BenchData> loaded = LoadBenchData(path, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->metric, Metric::kL2);
  EXPECT_EQ(loaded->groundtruth.values, dataset.groundtruth.values);
}

TEST(Hdf5WriterTest, AngularStoresUnitRowsAndCosineDistances) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/tiny-angular.hdf5";
  absl::StatusOr<PreparedDataset> angular = ToAngular(RandomDataset(400, 10, 6, 4), 4);
  ASSERT_TRUE(angular.ok()) << angular.status();
  EXPECT_EQ(angular->name, "tiny-angular");
  ASSERT_TRUE(WriteAnnBenchmarksHdf5(*angular, path).ok());
  EXPECT_EQ(readers::ReadHdf5Distance(path).value(), "angular");

  const FloatMatrix train = ReadFloats(path, "train");
  for (uint64_t i = 0; i < train.rows; ++i) {
    EXPECT_NEAR(Dot(train.row(i), train.row(i), 10), 1.0, 1e-5);
  }
  const FloatMatrix distances = ReadFloats(path, "distances");
  for (uint64_t q = 0; q < 6; ++q) {
    const float* query = angular->queries.row(q);
    // The nearest by 1 - cos is the best dot product over every row.
    double best = -2;
    for (uint64_t i = 0; i < train.rows; ++i) best = std::max(best, Dot(query, train.row(i), 10));
    EXPECT_NEAR(distances.row(q)[0], 1.0 - best, 1e-5);
  }
  absl::StatusOr<BenchData> loaded = LoadBenchData(path, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->metric, Metric::kCosine);
}

TEST(Hdf5WriterTest, RejectsUnknownDistanceAndBadPath) {
  testing::TempDir dir;
  PreparedDataset dataset = RandomDataset(20, 4, 2, 3);
  dataset.distance = "jaccard";
  EXPECT_EQ(WriteAnnBenchmarksHdf5(dataset, dir.path() + "/x.hdf5").code(),
            absl::StatusCode::kInvalidArgument);
  dataset.distance = "euclidean";
  EXPECT_EQ(WriteAnnBenchmarksHdf5(dataset, dir.path() + "/missing/x.hdf5").code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace adanns::bench
