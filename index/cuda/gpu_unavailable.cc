// The CUDA entry points of a build without CUDA: no device, every call UNAVAILABLE.
#include "index/cuda/gpu.h"

namespace adanns::index::gpu {
namespace {

absl::Status NotBuilt() {
  return absl::UnavailableError("this adanns build has no CUDA support (ADANNS_WITH_CUDA=OFF)");
}

}  // namespace

DeviceInfo Probe() {
  DeviceInfo info;
  info.reason = "built without CUDA";
  return info;
}

absl::StatusOr<std::unique_ptr<BatchScorer>> CreateScorer(const ScorerOptions&) {
  return NotBuilt();
}

uint64_t ScorerMemoryBytes(const BatchScorer&) { return 0; }

}  // namespace adanns::index::gpu
