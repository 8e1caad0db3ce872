#include "bench/datasets/pca_rotation.h"

#include <cmath>
#include <random>

#include "bench/datasets/matrix.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

// Correlated rows with very different spread per direction, offset from the origin.
FloatMatrix Anisotropic(uint64_t rows, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  FloatMatrix out = ZeroMatrix<float>(rows, dim);
  for (uint64_t i = 0; i < rows; ++i) {
    float shared = normal(rng);
    for (uint32_t j = 0; j < dim; ++j) {
      out.values[i * dim + j] = 5.0f + shared * (j % 3) + normal(rng) * (1.0f + j);
    }
  }
  return out;
}

double SquaredL2(const float* a, const float* b, size_t dim) {
  double sum = 0;
  for (size_t j = 0; j < dim; ++j) sum += (double{a[j]} - b[j]) * (double{a[j]} - b[j]);
  return sum;
}

TEST(PcaRotationTest, KeepsDistancesAndOrdersVarianceDecreasing) {
  const FloatMatrix data = Anisotropic(4000, 16, 7);
  absl::StatusOr<PcaRotation> pca = PcaRotation::Train(data);
  ASSERT_TRUE(pca.ok()) << pca.status();
  ASSERT_EQ(pca->dim(), 16u);
  absl::StatusOr<FloatMatrix> rotated = pca->Apply(data);
  ASSERT_TRUE(rotated.ok()) << rotated.status();

  for (uint64_t i = 0; i + 1 < 50; ++i) {
    const double before = SquaredL2(data.row(i), data.row(i + 1), 16);
    const double after = SquaredL2(rotated->row(i), rotated->row(i + 1), 16);
    EXPECT_NEAR(after, before, 1e-4 * before) << "pair " << i;
  }
  std::vector<double> mean(16, 0), variance(16, 0);
  for (uint64_t i = 0; i < rotated->rows; ++i) {
    for (int j = 0; j < 16; ++j) mean[j] += rotated->row(i)[j] / 4000.0;
  }
  for (uint64_t i = 0; i < rotated->rows; ++i) {
    for (int j = 0; j < 16; ++j) {
      variance[j] += std::pow(rotated->row(i)[j] - mean[j], 2) / 4000.0;
    }
  }
  for (int j = 0; j < 16; ++j) EXPECT_NEAR(mean[j], 0.0, 1e-3) << "dim " << j;
  for (int j = 1; j < 16; ++j) EXPECT_GE(variance[j - 1], variance[j]) << "dim " << j;
}

TEST(PcaRotationTest, RejectsTooFewRowsAndWrongWidth) {
  EXPECT_EQ(PcaRotation::Train(Anisotropic(8, 16, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<PcaRotation> pca = PcaRotation::Train(Anisotropic(200, 4, 1));
  ASSERT_TRUE(pca.ok()) << pca.status();
  EXPECT_EQ(pca->Apply(Anisotropic(3, 5, 1)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adanns::bench
