// GPU k-means in a build without CUDA: UNAVAILABLE.
#include "index/cuda/gpu_kmeans.h"

namespace adanns::index::gpu {
namespace {

absl::Status NotBuilt() {
  return absl::UnavailableError("this adanns build has no CUDA support (ADANNS_WITH_CUDA=OFF)");
}

}  // namespace

absl::StatusOr<KMeansResult> TrainKMeans(const float*, size_t, uint32_t, const KMeansOptions&) {
  return NotBuilt();
}

absl::StatusOr<double> KMeansObjective(const float*, size_t, uint32_t, const std::vector<float>&) {
  return NotBuilt();
}

}  // namespace adanns::index::gpu
