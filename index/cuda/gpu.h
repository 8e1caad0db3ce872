// The CUDA side of adanns as plain C++: whether a GPU is usable, and the GPU BatchScorer (GPU
// k-means: gpu_kmeans.h). Built from .cu files when CUDA is enabled; otherwise every entry point
// reports UNAVAILABLE (gpu_unavailable.cc), so callers need no #ifdefs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/batch_scorer.h"

namespace adanns::index::gpu {

struct DeviceInfo {
  bool available = false;
  std::string name;    // e.g. "NVIDIA H100 80GB HBM3"
  std::string reason;  // why not available
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  int multiprocessors = 0;
  size_t shared_bytes_per_block = 0;  // opt-in limit
};

// Probes device 0 once per call (cheap after the first).
DeviceInfo Probe();

enum class Storage { kFloat32, kFloat16 };

struct ScorerOptions {
  Metric metric = Metric::kL2;
  // The collection's dim (what SetRows receives per row).
  uint32_t dim = 0;
  // Prefix kept on the device; 0 = dim.
  uint32_t resident_dims = 0;
  // Default: kFloat32.
  Storage storage = Storage::kFloat32;
  // Device bytes the resident rows may take; 0 = no limit. RESOURCE_EXHAUSTED past it.
  uint64_t memory_budget_bytes = 0;
};

// A BatchScorer over rows copied to device memory (SetRows / ClearRows keep them in step).
// Calls are serialised internally. UNAVAILABLE without a usable GPU.
absl::StatusOr<std::unique_ptr<BatchScorer>> CreateScorer(const ScorerOptions& options);

// Device bytes a scorer's resident rows take.
uint64_t ScorerMemoryBytes(const BatchScorer& scorer);

}  // namespace adanns::index::gpu
