#include "bench/datasets/fashion_mnist.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/datasets/ground_truth.h"
#include "bench/datasets/idx_file.h"
#include "bench/datasets/pca_rotation.h"

namespace adanns::bench {
namespace {

constexpr uint32_t kTrainImages = 60000;
constexpr uint32_t kTestImages = 10000;
constexpr uint32_t kSide = 28;
constexpr uint32_t kDim = kSide * kSide;
constexpr uint32_t kVariancePrefixes[] = {8, 16, 32, 64, 128, 256, kDim};
constexpr size_t kDistanceCheckQueries = 1000;

absl::StatusOr<IdxImages> ReadExpectedImages(const std::string& path, uint32_t expected_count) {
  ASSIGN_OR_RETURN(IdxImages images, ReadIdxImages(path));
  if (images.count != expected_count || images.rows != kSide || images.cols != kSide) {
    return absl::DataLossError(absl::StrCat(path, ": holds ", images.count, " images of ",
                                            images.rows, "x", images.cols, ", Fashion-MNIST has ",
                                            expected_count, " of ", kSide, "x", kSide));
  }
  return images;
}

// The first `count` images as float rows (0..255, as ann-benchmarks stores them).
FloatMatrix PixelsAsFloats(const IdxImages& images, uint32_t count) {
  FloatMatrix out = ZeroMatrix<float>(count, images.pixels_per_image());
  std::copy(images.pixels.begin(), images.pixels.begin() + out.values.size(), out.values.begin());
  return out;
}

double L2(const float* a, const float* b, size_t dim) {
  double sum = 0;
  for (size_t j = 0; j < dim; ++j) {
    const double diff = static_cast<double>(a[j]) - b[j];
    sum += diff * diff;
  }
  return std::sqrt(sum);
}

void CheckVariance(const FloatMatrix& rotated, FashionMnistChecks& checks) {
  std::vector<double> sum(rotated.cols, 0.0);
  std::vector<double> sum_squares(rotated.cols, 0.0);
  for (uint64_t i = 0; i < rotated.rows; ++i) {
    const float* row = rotated.row(i);
    for (uint64_t j = 0; j < rotated.cols; ++j) {
      sum[j] += row[j];
      sum_squares[j] += static_cast<double>(row[j]) * row[j];
    }
  }
  const double n = static_cast<double>(rotated.rows);
  std::vector<double> variance(rotated.cols);
  double total = 0;
  for (uint64_t j = 0; j < rotated.cols; ++j) {
    const double mean = sum[j] / n;
    variance[j] = std::max(0.0, sum_squares[j] / n - mean * mean);
    total += variance[j];
  }
  // Float rotation noise is far below this; a misordered basis is not.
  const double tolerance = 1e-5 * variance[0];
  for (uint64_t j = 1; j < rotated.cols; ++j) {
    if (variance[j] > variance[j - 1] + tolerance) ++checks.variance_order_violations;
  }
  double prefix = 0;
  uint64_t next = 0;
  for (uint32_t dims : kVariancePrefixes) {
    for (; next < dims && next < rotated.cols; ++next) prefix += variance[next];
    checks.variance_fraction.emplace_back(dims, total > 0 ? prefix / total : 0.0);
  }
}

void CheckDistances(const FloatMatrix& base, const FloatMatrix& queries, const FloatMatrix& base_px,
                    const FloatMatrix& queries_px, const Int32Matrix& groundtruth,
                    FashionMnistChecks& checks) {
  const size_t dim = base.cols;
  const size_t count = std::min<size_t>(queries.rows, kDistanceCheckQueries);
  for (size_t q = 0; q < count; ++q) {
    const int32_t neighbor = groundtruth.row(q)[0];
    const double rotated = L2(queries.row(q), base.row(neighbor), dim);
    const double pixel = L2(queries_px.row(q), base_px.row(neighbor), dim);
    const double relative = pixel > 0 ? std::abs(rotated - pixel) / pixel : std::abs(rotated);
    checks.max_distance_relative_error = std::max(checks.max_distance_relative_error, relative);
    if (q == 0) {
      checks.query0_neighbor = neighbor;
      checks.query0_rotated_distance = rotated;
      checks.query0_pixel_distance = pixel;
    }
  }
}

}  // namespace

absl::StatusOr<FashionMnistResult> PrepareFashionMnist(const FashionMnistOptions& options,
                                                       const StepObserver& on_step) {
  if (options.queries < 1 || options.queries > kTestImages) {
    return absl::InvalidArgumentError(
        absl::StrCat("--queries ", options.queries, " must be in [1, ", kTestImages, "]"));
  }
  if (options.gt_k < 1 || options.gt_k > kTrainImages) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gt-k ", options.gt_k, " must be in [1, ", kTrainImages, "]"));
  }
  const std::string train_path = options.source_dir + "/train-images-idx3-ubyte.gz";
  const std::string test_path = options.source_dir + "/t10k-images-idx3-ubyte.gz";

  ASSIGN_OR_RETURN(IdxImages train, Timed("read train images", on_step, [&] {
                     return ReadExpectedImages(train_path, kTrainImages);
                   }));
  ASSIGN_OR_RETURN(IdxImages test, Timed("read test images", on_step, [&] {
                     return ReadExpectedImages(test_path, kTestImages);
                   }));
  const FloatMatrix base_px = PixelsAsFloats(train, kTrainImages);
  const FloatMatrix queries_px = PixelsAsFloats(test, options.queries);

  ASSIGN_OR_RETURN(PcaRotation pca, Timed("train PCA (784 components)", on_step,
                                          [&] { return PcaRotation::Train(base_px); }));
  FashionMnistResult result;
  PreparedDataset& dataset = result.dataset;
  dataset.name = "fashion-mnist-pca";
  dataset.distance = "euclidean";
  dataset.source_files = {train_path, test_path};
  dataset.transform = absl::StrCat(
      "pixels as float32 (0..255); x -> R (x - mean_train), R the full ", kDim,
      "-component PCA of the ", kTrainImages,
      " train images (FAISS PCAMatrix, eigen_power 0: no whitening), rows in decreasing "
      "variance; L2 distances unchanged");
  ASSIGN_OR_RETURN(dataset.base, Timed("rotate base", on_step, [&] { return pca.Apply(base_px); }));
  ASSIGN_OR_RETURN(dataset.queries,
                   Timed("rotate queries", on_step, [&] { return pca.Apply(queries_px); }));

  // Pixel-space squared distances are integers, so the double re-score is exact and ties break
  // by row index, not by rotation rounding.
  ASSIGN_OR_RETURN(GroundTruth truth, Timed("exact ground truth", on_step, [&] {
                     return ExactL2GroundTruth(base_px, queries_px, options.gt_k);
                   }));
  dataset.groundtruth = std::move(truth.neighbors);
  result.checks.groundtruth_full_rescans = truth.full_rescans;

  Timed("sanity checks", on_step, [&] {
    CheckVariance(dataset.base, result.checks);
    CheckDistances(dataset.base, dataset.queries, base_px, queries_px, dataset.groundtruth,
                   result.checks);
    return 0;
  });
  return result;
}

}  // namespace adanns::bench
