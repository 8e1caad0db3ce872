#include "bench/prepare_command.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "bench/datasets/angular.h"
#include "bench/datasets/duplicates.h"
#include "bench/datasets/hdf5_writer.h"
#include "bench/threads.h"

namespace adanns::bench {
namespace {

void PrintStep(std::string_view step, double seconds) {
  std::printf("[prepare] %-28.*s %8.2f s\n", static_cast<int>(step.size()), step.data(), seconds);
  std::fflush(stdout);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void PrintChecks(const FashionMnistChecks& checks) {
  std::printf("variance in the first d dims of the base set (prefixes nest):\n");
  for (const auto& [dims, fraction] : checks.variance_fraction) {
    std::printf("  d=%-4u %7.4f\n", dims, fraction);
  }
  std::printf("component order: %s (%u dims above their predecessor)\n",
              checks.variance_order_violations == 0 ? "decreasing variance" : "NOT DECREASING",
              checks.variance_order_violations);
  std::printf(
      "query 0 -> nearest base row %d: L2 rotated %.4f, pixel space %.4f (relative diff %.2e)\n",
      checks.query0_neighbor, checks.query0_rotated_distance, checks.query0_pixel_distance,
      checks.query0_pixel_distance > 0
          ? std::abs(checks.query0_rotated_distance - checks.query0_pixel_distance) /
                checks.query0_pixel_distance
          : 0.0);
  std::printf("rotation keeps L2: max relative diff over checked queries %.2e\n",
              checks.max_distance_relative_error);
  std::printf("ground truth: %llu queries rescanned in full (shortlist margin too thin)\n",
              static_cast<unsigned long long>(checks.groundtruth_full_rescans));
}

void PrintSpectrum(const FloatMatrix& base) {
  const SpectrumCheck check = CheckSpectrum(base);
  std::printf("variance in the first d dims of the base set (prefixes nest):\n");
  for (const auto& [dims, fraction] : check.prefix_fraction) {
    std::printf("  d=%-5u %7.4f\n", dims, fraction);
  }
  uint32_t violations = 0;
  for (size_t b = 1; b < check.block_variance.size(); ++b) {
    if (check.block_variance[b] >= check.block_variance[b - 1]) ++violations;
  }
  std::printf("mean variance of dims [2^b - 1, 2^(b+1) - 1): %s\n",
              violations == 0 ? "decreasing block to block" : "NOT DECREASING");
}

// Writes the npy folder and, when asked, the HDF5 file; prints what was written.
int WriteOutputs(const PreparedDataset& dataset, const PrepareOutput& output,
                 std::string_view command, std::chrono::steady_clock::time_point start) {
  const auto write_start = std::chrono::steady_clock::now();
  if (absl::Status written = WritePreparedDataset(dataset, output.out_dir); !written.ok()) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(command.size()), command.data(),
                 written.ToString().c_str());
    return 1;
  }
  PrintStep("write npy + info.json", SecondsSince(write_start));
  if (!output.hdf5_path.empty()) {
    const auto hdf5_start = std::chrono::steady_clock::now();
    if (absl::Status written = WriteAnnBenchmarksHdf5(dataset, output.hdf5_path); !written.ok()) {
      std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(command.size()), command.data(),
                   written.ToString().c_str());
      return 1;
    }
    PrintStep("write ann-benchmarks HDF5", SecondsSince(hdf5_start));
  }
  std::printf(
      "wrote %s (%s, %s): base.npy %llux%llu float32, queries.npy %llux%llu float32, "
      "groundtruth.npy %llux%llu int32, info.json%s%s; total %.2f s\n",
      output.out_dir.c_str(), dataset.name.c_str(), dataset.distance.c_str(),
      static_cast<unsigned long long>(dataset.base.rows),
      static_cast<unsigned long long>(dataset.base.cols),
      static_cast<unsigned long long>(dataset.queries.rows),
      static_cast<unsigned long long>(dataset.queries.cols),
      static_cast<unsigned long long>(dataset.groundtruth.rows),
      static_cast<unsigned long long>(dataset.groundtruth.cols),
      output.hdf5_path.empty() ? "" : "; HDF5 ", output.hdf5_path.c_str(), SecondsSince(start));
  return 0;
}

}  // namespace

int RunPrepareFashionMnist(const PrepareFashionMnistArgs& args) {
  const char* command = args.angular ? "prepare fashion-mnist-angular" : "prepare fashion-mnist";
  SetComputeThreads(args.output.threads);
  std::printf("[prepare] %s from %s -> %s (%d threads)\n", command, args.dataset.source_dir.c_str(),
              args.output.out_dir.c_str(), ComputeThreads());
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<FashionMnistResult> result = PrepareFashionMnist(args.dataset, PrintStep);
  if (!result.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, result.status().ToString().c_str());
    return 1;
  }
  PrintChecks(result->checks);
  PreparedDataset& dataset = result->dataset;
  if (args.angular) {
    const auto angular_start = std::chrono::steady_clock::now();
    uint64_t rescans = 0;
    absl::StatusOr<PreparedDataset> angular =
        ToAngular(std::move(dataset), args.dataset.gt_k, &rescans);
    if (!angular.ok()) {
      std::fprintf(stderr, "%s: %s\n", command, angular.status().ToString().c_str());
      return 1;
    }
    dataset = *std::move(angular);
    PrintStep("normalise + cosine ground truth", SecondsSince(angular_start));
    std::printf("cosine ground truth: %llu queries rescanned in full\n",
                static_cast<unsigned long long>(rescans));
  }
  if (args.duplicates > 0) {
    const auto duplicates_start = std::chrono::steady_clock::now();
    absl::StatusOr<PreparedDataset> grown =
        WithDuplicates(std::move(dataset), args.duplicates, args.dataset.gt_k);
    if (!grown.ok()) {
      std::fprintf(stderr, "%s: %s\n", command, grown.status().ToString().c_str());
      return 1;
    }
    dataset = *std::move(grown);
    PrintStep("near duplicates + ground truth", SecondsSince(duplicates_start));
  }
  return WriteOutputs(dataset, args.output, command, start);
}

int RunPrepareSynthetic(const PrepareSyntheticArgs& args) {
  const char* command = "prepare synthetic";
  SetComputeThreads(args.output.threads);
  const SyntheticOptions& options = args.dataset;
  std::printf(
      "[prepare] synthetic n=%llu dim=%u queries=%u clusters=%u seed=%llu decay=%g noise=%g -> "
      "%s (%d threads)\n",
      static_cast<unsigned long long>(options.n), options.dim, options.queries,
      SyntheticClusters(options), static_cast<unsigned long long>(options.seed),
      options.spectrum_decay, options.noise, args.output.out_dir.c_str(), ComputeThreads());
  const auto start = std::chrono::steady_clock::now();
  uint64_t rescans = 0;
  absl::StatusOr<PreparedDataset> dataset = GenerateSynthetic(options, PrintStep, &rescans);
  if (!dataset.ok()) {
    std::fprintf(stderr, "%s: %s\n", command, dataset.status().ToString().c_str());
    return 1;
  }
  const auto check_start = std::chrono::steady_clock::now();
  PrintSpectrum(dataset->base);
  PrintStep("spectrum check", SecondsSince(check_start));
  std::printf("ground truth: %llu queries rescanned in full (shortlist margin too thin)\n",
              static_cast<unsigned long long>(rescans));
  return WriteOutputs(*dataset, args.output, command, start);
}

}  // namespace adanns::bench
