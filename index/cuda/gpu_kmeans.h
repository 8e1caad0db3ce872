// GPU k-means (cuBLAS distances, argmin and centroid update kernels): library adanns_gpu_kmeans,
// separate from adanns_index so that binaries without it (the server) do not load cuBLAS.
// UNAVAILABLE without a usable GPU or in a build without CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "index/kmeans.h"

namespace adanns::index::gpu {

struct KMeansResult {
  std::vector<float> centroids;  // clusters x dims
  double objective = 0;          // sum of squared L2 distances to the final centroids
  double seconds_per_iteration = 0;
};

// Lloyd's k-means on the GPU (cuBLAS distances, argmin and centroid update kernels), seeded
// initialisation on distinct points. Same options as TrainKMeans (progress/cancel included).
absl::StatusOr<KMeansResult> TrainKMeans(const float* points, size_t n, uint32_t dims,
                                         const KMeansOptions& options);
// Sum of squared L2 distances of the points to their nearest centroid (computed on the GPU).
absl::StatusOr<double> KMeansObjective(const float* points, size_t n, uint32_t dims,
                                       const std::vector<float>& centroids);

}  // namespace adanns::index::gpu
