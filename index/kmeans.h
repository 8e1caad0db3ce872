// Seeded k-means on a prefix of the stored vectors (FAISS Clustering underneath), iteration by
// iteration so that builds can report progress and be cancelled, and batch nearest-centroid
// assignment. FAISS exceptions are caught here and returned as Status.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"

namespace adanns::index {

struct KMeansOptions {
  // Number of centroids.
  uint32_t clusters = 0;
  // Lloyd iterations.
  // Default: 20.
  uint32_t iterations = 20;
  // Seed of the initialisation and of the training subsample.
  // Default: 1234.
  uint64_t seed = 1234;
  // Centroids are unit length (spherical k-means: cosine collections).
  // Default: false.
  bool spherical = false;
  // Called after each iteration with the fraction done; may be empty.
  std::function<void(double)> progress;
  // Set by another thread to stop early with CANCELLED; may be null.
  const std::atomic<bool>* cancel = nullptr;
};

// Trains on n points of `dims` floats (row-major); returns clusters x dims centroids.
// FAILED_PRECONDITION when n < clusters.
absl::StatusOr<std::vector<float>> TrainKMeans(const float* points, size_t n, uint32_t dims,
                                               const KMeansOptions& options);

// For each of n points (row-major, `dims` floats), the best of `centroids` (clusters x dims):
// nearest by L2, or largest inner product for kInnerProduct / kCosine (points and centroids are
// used as given: normalise them first for cosine). Uses BLAS; `threads` OpenMP threads.
absl::StatusOr<std::vector<uint32_t>> AssignNearest(const float* points, size_t n,
                                                    std::span<const float> centroids, uint32_t dims,
                                                    Metric metric);

}  // namespace adanns::index
