// A benchmark data set in memory as `adanns-bench prepare` writes it and the harness reads it:
// base vectors, queries, exact ground truth, and where it came from.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/datasets/matrix.h"

namespace adanns::bench {

struct PreparedDataset {
  std::string name;         // e.g. "fashion-mnist-pca"
  std::string distance;     // "euclidean" or "angular"
  FloatMatrix base;         // n x dim
  FloatMatrix queries;      // queries x dim
  Int32Matrix groundtruth;  // queries x gt_k base rows, nearest first
  std::vector<std::string> source_files;
  std::string transform;  // how the source values became these vectors, in words
};

// Called after each step of a preparation with its name and wall seconds.
using StepObserver = std::function<void(std::string_view step, double seconds)>;

// Runs `step` (returning a value), then reports its wall time to `on_step` (may be empty).
template <typename Fn>
auto Timed(std::string_view name, const StepObserver& on_step, Fn&& step) {
  const auto start = std::chrono::steady_clock::now();
  auto result = step();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (on_step) on_step(name, elapsed.count());
  return result;
}

// Writes base.npy (float32), queries.npy (float32), groundtruth.npy (int32) and info.json into
// `dir`, creating it when missing.
absl::Status WritePreparedDataset(const PreparedDataset& dataset, const std::string& dir);

// Reads base.npy and queries.npy, and groundtruth.npy when `with_groundtruth`, from `dir`
// (info.json is not needed). INVALID_ARGUMENT when their shapes disagree.
absl::StatusOr<PreparedDataset> ReadPreparedDataset(const std::string& dir, bool with_groundtruth);

}  // namespace adanns::bench
