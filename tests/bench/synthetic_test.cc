#include "bench/datasets/synthetic.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

SyntheticOptions Options(uint64_t n, uint32_t dim, uint32_t queries) {
  SyntheticOptions options;
  options.n = n;
  options.dim = dim;
  options.queries = queries;
  options.gt_k = 10;
  options.seed = 7;
  return options;
}

bool SameBytes(const FloatMatrix& a, const FloatMatrix& b) {
  return a.rows == b.rows && a.cols == b.cols &&
         std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0;
}

TEST(SyntheticTest, SameSeedSameBytesWhateverTheThreads) {
  const SyntheticOptions options = Options(3000, 48, 20);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  absl::StatusOr<PreparedDataset> one = GenerateSynthetic(options);
  omp_set_num_threads(2);
  absl::StatusOr<PreparedDataset> two = GenerateSynthetic(options);
  omp_set_num_threads(threads);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_TRUE(SameBytes(one->base, two->base));
  EXPECT_TRUE(SameBytes(one->queries, two->queries));
  EXPECT_EQ(one->groundtruth.values, two->groundtruth.values);
  EXPECT_EQ(one->name, "synthetic-mrl");
  EXPECT_EQ(one->distance, "euclidean");

  SyntheticOptions other_seed = options;
  other_seed.seed = 8;
  absl::StatusOr<PreparedDataset> other = GenerateSynthetic(other_seed);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(SameBytes(one->base, other->base));
}

TEST(SyntheticTest, ChunksMatchTheWholeAndQueriesAreNotBaseRows) {
  const SyntheticOptions options = Options(1000, 20, 50);
  const FloatMatrix centres = SyntheticCentres(options);
  std::vector<float> whole(options.n * options.dim);
  GenerateSyntheticRows(options, centres, /*queries=*/false, 0, options.n, whole.data());
  std::vector<float> chunk(300 * options.dim);
  GenerateSyntheticRows(options, centres, /*queries=*/false, 500, 300, chunk.data());
  EXPECT_TRUE(std::equal(chunk.begin(), chunk.end(), whole.begin() + 500 * options.dim));

  std::vector<float> queries(options.queries * options.dim);
  GenerateSyntheticRows(options, centres, /*queries=*/true, 0, options.queries, queries.data());
  for (uint32_t q = 0; q < options.queries; ++q) {
    const float* query = &queries[q * options.dim];
    for (uint64_t i = 0; i < options.n; ++i) {
      ASSERT_FALSE(std::equal(query, query + options.dim, &whole[i * options.dim]))
          << "query " << q << " copies base row " << i;
    }
  }
}

TEST(SyntheticTest, CentresFollowTheSpectrumExactly) {
  SyntheticOptions options = Options(10000, 16, 1);
  options.clusters = 50;
  const FloatMatrix centres = SyntheticCentres(options);
  ASSERT_EQ(centres.rows, 50u);
  for (uint32_t j = 0; j < options.dim; ++j) {
    double sum = 0, squares = 0;
    for (uint64_t c = 0; c < centres.rows; ++c) {
      sum += centres.row(c)[j];
      squares += static_cast<double>(centres.row(c)[j]) * centres.row(c)[j];
    }
    EXPECT_NEAR(sum / 50, 0.0, 1e-6);
    EXPECT_NEAR(squares / 50, 1.0 / (j + 1), 1e-5) << "dim " << j;
  }
}

// Top-10 of `query` among the base rows, by squared L2 over the first `dims` dims.
std::vector<int32_t> PrefixTop10(const FloatMatrix& base, const float* query, uint32_t dims) {
  std::vector<std::pair<double, int32_t>> scored;
  for (uint64_t i = 0; i < base.rows; ++i) {
    double sum = 0;
    for (uint32_t j = 0; j < dims; ++j) {
      const double diff = static_cast<double>(query[j]) - base.row(i)[j];
      sum += diff * diff;
    }
    scored.emplace_back(sum, static_cast<int32_t>(i));
  }
  std::partial_sort(scored.begin(), scored.begin() + 10, scored.end());
  std::vector<int32_t> ids;
  for (int r = 0; r < 10; ++r) ids.push_back(scored[r].second);
  return ids;
}

TEST(SyntheticTest, PrefixesNest) {
  const SyntheticOptions options = Options(4000, 256, 40);
  absl::StatusOr<PreparedDataset> dataset = GenerateSynthetic(options);
  ASSERT_TRUE(dataset.ok()) << dataset.status();

  const SpectrumCheck spectrum = CheckSpectrum(dataset->base);
  ASSERT_EQ(spectrum.block_variance.size(), 8u);  // blocks of 1, 2, 4, ..., 128 dims
  for (size_t b = 1; b < spectrum.block_variance.size(); ++b) {
    EXPECT_LT(spectrum.block_variance[b], 0.75 * spectrum.block_variance[b - 1]) << "block " << b;
  }
  // Half the dims hold well over half of the variance.
  const auto& fractions = spectrum.prefix_fraction;
  const auto half = std::find_if(fractions.begin(), fractions.end(),
                                 [](const auto& entry) { return entry.first == 128; });
  ASSERT_NE(half, fractions.end());
  EXPECT_GT(half->second, 0.8);

  // The 64-dim prefix finds many of the true full-dim neighbours; chance would find 10 / 4000.
  double found = 0;
  for (uint64_t q = 0; q < dataset->queries.rows; ++q) {
    const std::vector<int32_t> prefix = PrefixTop10(dataset->base, dataset->queries.row(q), 64);
    const int32_t* truth = dataset->groundtruth.row(q);
    for (int32_t id : prefix) found += std::count(truth, truth + 10, id);
  }
  EXPECT_GT(found / (10.0 * dataset->queries.rows), 0.3);
}

TEST(SyntheticTest, RejectsBadOptions) {
  EXPECT_EQ(GenerateSynthetic(Options(0, 8, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateSynthetic(Options(100, 0, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  SyntheticOptions too_many_neighbours = Options(5, 8, 1);
  EXPECT_EQ(GenerateSynthetic(too_many_neighbours).status().code(),
            absl::StatusCode::kInvalidArgument);
  SyntheticOptions bad_decay = Options(100, 8, 1);
  bad_decay.spectrum_decay = -1;
  EXPECT_EQ(GenerateSynthetic(bad_decay).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adanns::bench
