// Fashion-MNIST as a Matryoshka-like data set: pixels centred on the train mean and rotated onto
// the full PCA basis (decreasing variance), so L2 is unchanged and every prefix is the best view.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/datasets/prepared_dataset.h"

namespace adanns::bench {

// Where Debian's dataset-fashion-mnist package installs the idx files.
inline constexpr char kFashionMnistDefaultDir[] = "/usr/share/datasets/fashion-mnist";

struct FashionMnistOptions {
  // Folder holding train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz.
  // Default: kFashionMnistDefaultDir.
  std::string source_dir = kFashionMnistDefaultDir;
  // How many test images (the first ones) become queries, 1 to 10000.
  // Default: 10000.
  uint32_t queries = 10000;
  // Neighbours per query in the ground truth, 1 to 60000.
  // Default: 100.
  uint32_t gt_k = 100;
};

// What the preparation measured about its own output, to be printed.
struct FashionMnistChecks {
  // (prefix dims, fraction of the base set's total variance in that prefix).
  std::vector<std::pair<uint32_t, double>> variance_fraction;
  // Dims whose base-set variance exceeds the previous dim's (beyond rounding); 0 when the
  // components are in decreasing-variance order.
  uint32_t variance_order_violations = 0;
  // Query 0 and its nearest neighbour: L2 distance in the rotated space and in pixel space.
  int32_t query0_neighbor = -1;
  double query0_rotated_distance = 0;
  double query0_pixel_distance = 0;
  // Largest relative difference between rotated and pixel L2 distance, query to nearest
  // neighbour, over the first (up to) 1000 queries.
  double max_distance_relative_error = 0;
  // Queries whose ground truth needed a full exact scan (see ExactL2GroundTruth).
  uint64_t groundtruth_full_rescans = 0;
};

struct FashionMnistResult {
  PreparedDataset dataset;
  FashionMnistChecks checks;
};

// Reads, transforms and computes exact ground truth (in integer-exact pixel space). Uses the
// OpenMP / BLAS thread counts in force. NOT_FOUND / DATA_LOSS for missing or malformed idx files,
// INVALID_ARGUMENT for out-of-range options.
absl::StatusOr<FashionMnistResult> PrepareFashionMnist(const FashionMnistOptions& options,
                                                       const StepObserver& on_step);

}  // namespace adanns::bench
