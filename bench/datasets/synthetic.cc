#include "bench/datasets/synthetic.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "bench/datasets/ground_truth.h"

namespace adanns::bench {
namespace {

constexpr uint64_t kMaxClusters = 4096;
constexpr uint32_t kMaxDim = 65536;
// Independent random streams of one seed.
constexpr uint64_t kCentreStream = 0;
constexpr uint64_t kBaseStream = 1;
constexpr uint64_t kQueryStream = 2;
// Rows generated per OpenMP work item.
constexpr uint64_t kRowsPerChunk = 256;

// SplitMix64 (Steele, Lea, Flood 2014): a counter-based generator whose state is just a number, so
// every row can start its own stream from (seed, stream, row) and rows need no order.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class RowRandom {
 public:
  RowRandom(uint64_t seed, uint64_t stream, uint64_t row) {
    // Mixing each part in turn keeps (seed, stream, row) triples far apart in state space.
    state_ = seed;
    state_ = SplitMix64(state_) ^ stream;
    state_ = SplitMix64(state_) ^ row;
    SplitMix64(state_);
  }

  // Uniform in [0, bound) by Lemire's multiply-shift (bias < bound / 2^32, negligible here).
  uint32_t Below(uint32_t bound) {
    return static_cast<uint32_t>(((SplitMix64(state_) >> 32) * bound) >> 32);
  }

  // Two independent standard normals (Box-Muller): written here so the bytes do not depend on a
  // standard library's std::normal_distribution.
  std::pair<double, double> NormalPair() {
    // 53 random bits in (0, 1]: log never sees 0.
    const double u1 = (static_cast<double>(SplitMix64(state_) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(SplitMix64(state_) >> 11) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    return {radius * std::cos(angle), radius * std::sin(angle)};
  }

  // `count` standard normals scaled by `scale[j]` into out[j].
  void FillNormals(const double* scale, uint32_t count, double* out) {
    for (uint32_t j = 0; j < count; j += 2) {
      const auto [z0, z1] = NormalPair();
      out[j] = scale[j] * z0;
      if (j + 1 < count) out[j + 1] = scale[j + 1] * z1;
    }
  }

 private:
  uint64_t state_ = 0;
};

// Standard deviation of dim j: (j + 1)^(-decay / 2).
std::vector<double> SpectrumScale(const SyntheticOptions& options) {
  std::vector<double> scale(options.dim);
  for (uint32_t j = 0; j < options.dim; ++j) {
    scale[j] = std::pow(static_cast<double>(j) + 1.0, -options.spectrum_decay / 2.0);
  }
  return scale;
}

}  // namespace

absl::Status ValidateSyntheticOptions(const SyntheticOptions& options) {
  if (options.n < 1 || options.n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--n ", options.n, " must be in [1, 2^31 - 1] (ground-truth ids are int32)"));
  }
  if (options.dim < 1 || options.dim > kMaxDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dim ", options.dim, " must be in [1, ", kMaxDim, "]"));
  }
  if (options.queries < 1) return absl::InvalidArgumentError("--queries must be at least 1");
  if (options.gt_k < 1 || options.gt_k > options.n) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gt-k ", options.gt_k, " must be in [1, n = ", options.n, "]"));
  }
  if (options.clusters > kMaxClusters) {
    return absl::InvalidArgumentError(
        absl::StrCat("--clusters ", options.clusters, " must be at most ", kMaxClusters));
  }
  if (!(options.spectrum_decay >= 0 && options.spectrum_decay <= 16)) {
    return absl::InvalidArgumentError("spectrum decay must be in [0, 16]");
  }
  if (!(options.noise >= 0 && options.noise <= 1e3)) {
    return absl::InvalidArgumentError("noise must be in [0, 1000]");
  }
  return absl::OkStatus();
}

uint32_t SyntheticClusters(const SyntheticOptions& options) {
  if (options.clusters > 0) return options.clusters;
  const double root = std::round(std::sqrt(static_cast<double>(options.n)));
  return static_cast<uint32_t>(std::clamp(root, 1.0, static_cast<double>(kMaxClusters)));
}

FloatMatrix SyntheticCentres(const SyntheticOptions& options) {
  const uint32_t clusters = SyntheticClusters(options);
  const uint32_t dim = options.dim;
  const std::vector<double> ones(dim, 1.0);
  std::vector<double> raw(static_cast<size_t>(clusters) * dim);
  for (uint32_t c = 0; c < clusters; ++c) {
    RowRandom(options.seed, kCentreStream, c).FillNormals(ones.data(), dim, &raw[c * dim]);
  }
  const std::vector<double> scale = SpectrumScale(options);
  FloatMatrix centres = ZeroMatrix<float>(clusters, dim);
  for (uint32_t j = 0; j < dim; ++j) {
    double sum = 0;
    double sum_squares = 0;
    for (uint32_t c = 0; c < clusters; ++c) {
      sum += raw[c * dim + j];
      sum_squares += raw[c * dim + j] * raw[c * dim + j];
    }
    const double mean = sum / clusters;
    const double std_dev = std::sqrt(std::max(0.0, sum_squares / clusters - mean * mean));
    // One cluster (or identical draws) has no spread to rescale: its centre is the origin.
    const double factor = std_dev > 0 ? scale[j] / std_dev : 0.0;
    for (uint32_t c = 0; c < clusters; ++c) {
      centres.values[static_cast<size_t>(c) * dim + j] =
          static_cast<float>((raw[c * dim + j] - mean) * factor);
    }
  }
  return centres;
}

void GenerateSyntheticRows(const SyntheticOptions& options, const FloatMatrix& centres,
                           bool queries, uint64_t first_row, uint64_t rows, float* out) {
  const uint32_t dim = options.dim;
  std::vector<double> noise_scale = SpectrumScale(options);
  for (double& s : noise_scale) s *= options.noise;
  const uint64_t stream = queries ? kQueryStream : kBaseStream;
  const uint64_t chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
#pragma omp parallel
  {
    std::vector<double> noise(dim);
#pragma omp for schedule(dynamic, 1)
    for (uint64_t chunk = 0; chunk < chunks; ++chunk) {
      const uint64_t end = std::min(rows, (chunk + 1) * kRowsPerChunk);
      for (uint64_t r = chunk * kRowsPerChunk; r < end; ++r) {
        RowRandom random(options.seed, stream, first_row + r);
        const float* centre = centres.row(random.Below(static_cast<uint32_t>(centres.rows)));
        random.FillNormals(noise_scale.data(), dim, noise.data());
        float* row = out + r * dim;
        for (uint32_t j = 0; j < dim; ++j) {
          row[j] = static_cast<float>(centre[j] + noise[j]);
        }
      }
    }
  }
}

RowChunkSource SyntheticRowSource(const SyntheticOptions& options, bool queries) {
  auto centres = std::make_shared<const FloatMatrix>(SyntheticCentres(options));
  return [options, centres, queries](uint64_t first, uint64_t count, std::vector<float>& scratch) {
    scratch.resize(count * options.dim);
    GenerateSyntheticRows(options, *centres, queries, first, count, scratch.data());
    return static_cast<const float*>(scratch.data());
  };
}

SpectrumCheck CheckSpectrum(const FloatMatrix& vectors) {
  const size_t dim = vectors.cols;
  std::vector<double> sum(dim, 0.0);
  std::vector<double> sum_squares(dim, 0.0);
#pragma omp parallel
  {
    std::vector<double> local_sum(dim, 0.0);
    std::vector<double> local_squares(dim, 0.0);
#pragma omp for schedule(static)
    for (uint64_t i = 0; i < vectors.rows; ++i) {
      const float* row = vectors.row(i);
      for (size_t j = 0; j < dim; ++j) {
        local_sum[j] += row[j];
        local_squares[j] += static_cast<double>(row[j]) * row[j];
      }
    }
#pragma omp critical
    for (size_t j = 0; j < dim; ++j) {
      sum[j] += local_sum[j];
      sum_squares[j] += local_squares[j];
    }
  }
  SpectrumCheck check;
  check.variance.resize(dim);
  const double n = std::max<double>(1.0, static_cast<double>(vectors.rows));
  double total = 0;
  for (size_t j = 0; j < dim; ++j) {
    const double mean = sum[j] / n;
    check.variance[j] = std::max(0.0, sum_squares[j] / n - mean * mean);
    total += check.variance[j];
  }
  double prefix = 0;
  for (size_t j = 0; j < dim; ++j) {
    prefix += check.variance[j];
    const size_t dims = j + 1;
    if ((dims & (dims - 1)) == 0 || dims == dim) {
      check.prefix_fraction.emplace_back(static_cast<uint32_t>(dims),
                                         total > 0 ? prefix / total : 0);
    }
  }
  for (size_t begin = 0, width = 1; begin + width <= dim; begin += width, width *= 2) {
    double block = 0;
    for (size_t j = begin; j < begin + width; ++j) block += check.variance[j];
    check.block_variance.push_back(block / static_cast<double>(width));
  }
  return check;
}

absl::StatusOr<PreparedDataset> GenerateSynthetic(const SyntheticOptions& options,
                                                  const StepObserver& on_step,
                                                  uint64_t* full_rescans) {
  RETURN_IF_ERROR(ValidateSyntheticOptions(options));
  const uint32_t clusters = SyntheticClusters(options);
  PreparedDataset dataset;
  dataset.name = "synthetic-mrl";
  dataset.distance = "euclidean";
  dataset.transform = absl::StrFormat(
      "generated (adanns-bench prepare synthetic): seed %d, %d clusters with uniform weights; dim "
      "j "
      "has scale s_j = (j+1)^(-%g/2); centre values per dim standardised to mean 0, std s_j; a "
      "point is a uniformly drawn centre + N(0, (%g s_j)^2) per dim; queries drawn the same way "
      "from their own stream",
      options.seed, clusters, options.spectrum_decay, options.noise);
  const FloatMatrix centres = SyntheticCentres(options);
  Timed("generate base", on_step, [&] {
    dataset.base = ZeroMatrix<float>(options.n, options.dim);
    GenerateSyntheticRows(options, centres, /*queries=*/false, 0, options.n,
                          dataset.base.values.data());
    return 0;
  });
  Timed("generate queries", on_step, [&] {
    dataset.queries = ZeroMatrix<float>(options.queries, options.dim);
    GenerateSyntheticRows(options, centres, /*queries=*/true, 0, options.queries,
                          dataset.queries.values.data());
    return 0;
  });
  ASSIGN_OR_RETURN(GroundTruth truth, Timed("exact ground truth", on_step, [&] {
                     return ExactL2GroundTruth(dataset.base, dataset.queries, options.gt_k);
                   }));
  dataset.groundtruth = std::move(truth.neighbors);
  if (full_rescans != nullptr) *full_rescans = truth.full_rescans;
  return dataset;
}

}  // namespace adanns::bench
