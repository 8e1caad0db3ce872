#include "bench/prepare_command.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "absl/status/status.h"
#include "bench/threads.h"

namespace adanns::bench {
namespace {

void PrintStep(std::string_view step, double seconds) {
  std::printf("[prepare] %-28.*s %8.2f s\n", static_cast<int>(step.size()), step.data(), seconds);
  std::fflush(stdout);
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

}  // namespace

int RunPrepareFashionMnist(const PrepareFashionMnistArgs& args) {
  SetComputeThreads(args.threads);
  std::printf("[prepare] fashion-mnist from %s -> %s (%d threads)\n",
              args.dataset.source_dir.c_str(), args.out_dir.c_str(), ComputeThreads());
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<FashionMnistResult> result = PrepareFashionMnist(args.dataset, PrintStep);
  if (!result.ok()) {
    std::fprintf(stderr, "prepare fashion-mnist: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const auto write_start = std::chrono::steady_clock::now();
  if (absl::Status written = WritePreparedDataset(result->dataset, args.out_dir); !written.ok()) {
    std::fprintf(stderr, "prepare fashion-mnist: %s\n", written.ToString().c_str());
    return 1;
  }
  const auto end = std::chrono::steady_clock::now();
  PrintStep("write npy + info.json", std::chrono::duration<double>(end - write_start).count());

  PrintChecks(result->checks);
  const PreparedDataset& dataset = result->dataset;
  std::printf(
      "wrote %s: base.npy %llux%llu float32, queries.npy %llux%llu float32, groundtruth.npy "
      "%llux%llu int32, info.json; total %.2f s\n",
      args.out_dir.c_str(), static_cast<unsigned long long>(dataset.base.rows),
      static_cast<unsigned long long>(dataset.base.cols),
      static_cast<unsigned long long>(dataset.queries.rows),
      static_cast<unsigned long long>(dataset.queries.cols),
      static_cast<unsigned long long>(dataset.groundtruth.rows),
      static_cast<unsigned long long>(dataset.groundtruth.cols),
      std::chrono::duration<double>(end - start).count());
  return 0;
}

}  // namespace adanns::bench
