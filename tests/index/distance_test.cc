// Every ISA's kernels against a double-precision reference, over prefix lengths that exercise
// each tail path (1..70) and the Fashion-MNIST width.
#include "index/distance.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::index {
namespace {

struct Reference {
  double l2 = 0, dot = 0, norm = 0;
};

Reference Compute(const float* q, const float* x, size_t d) {
  Reference r;
  for (size_t j = 0; j < d; ++j) {
    r.l2 += (double(q[j]) - x[j]) * (double(q[j]) - x[j]);
    r.dot += double(q[j]) * x[j];
    r.norm += double(x[j]) * x[j];
  }
  return r;
}

class DistanceTest : public testing::TestWithParam<Isa> {};

TEST_P(DistanceTest, MatchesReferenceForEveryPrefixLength) {
  const DistanceKernels& kernels = KernelsFor(GetParam());
  constexpr size_t kStride = 800, kRows = 5;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> query(kStride), rows(kStride * kRows);
  for (float& v : query) v = normal(rng);
  for (float& v : rows) v = normal(rng);

  std::vector<size_t> lengths;
  for (size_t d = 1; d <= 70; ++d) lengths.push_back(d);
  lengths.push_back(784);
  for (size_t d : lengths) {
    std::vector<float> l2(kRows), dot(kRows), dot2(kRows), norm(kRows);
    kernels.l2_sqr(query.data(), rows.data(), kStride, kRows, d, l2.data());
    kernels.dot(query.data(), rows.data(), kStride, kRows, d, dot.data());
    kernels.dot_and_norm(query.data(), rows.data(), kStride, kRows, d, dot2.data(), norm.data());
    for (size_t i = 0; i < kRows; ++i) {
      const Reference ref = Compute(query.data(), rows.data() + i * kStride, d);
      const double tol = 1e-5 * (1.0 + d);
      EXPECT_NEAR(l2[i], ref.l2, tol * (1 + ref.l2)) << "d=" << d << " row=" << i;
      EXPECT_NEAR(dot[i], ref.dot, tol * (1 + std::abs(ref.dot))) << "d=" << d;
      EXPECT_NEAR(dot2[i], ref.dot, tol * (1 + std::abs(ref.dot))) << "d=" << d;
      EXPECT_NEAR(norm[i], ref.norm, tol * (1 + ref.norm)) << "d=" << d;
    }
  }
}

// Reading exactly d floats: a row ending at the last element of an allocation must not fault and
// must not read its neighbour (masked tails).
TEST_P(DistanceTest, ReadsOnlyThePrefix) {
  const DistanceKernels& kernels = KernelsFor(GetParam());
  std::vector<float> query(19, 1.0f);
  std::vector<float> row(19, 2.0f);
  row.resize(17);  // the last 2 query floats have no row counterpart: d = 17 must ignore them
  float out = 0;
  kernels.l2_sqr(query.data(), row.data(), 17, 1, 17, &out);
  EXPECT_FLOAT_EQ(out, 17.0f);
}

INSTANTIATE_TEST_SUITE_P(SupportedIsas, DistanceTest, testing::ValuesIn(SupportedIsas()),
                         [](const testing::TestParamInfo<Isa>& param_info) {
                           return std::string(KernelsFor(param_info.param).name);
                         });

TEST(DistanceDispatchTest, BestIsTheWidestSupported) {
  EXPECT_EQ(BestKernels().name, KernelsFor(SupportedIsas().back()).name);
}

}  // namespace
}  // namespace adanns::index
