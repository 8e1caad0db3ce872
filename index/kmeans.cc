// k-means and assignment on FAISS, with our Status at the boundary.
#include "index/kmeans.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace adanns::index {

absl::StatusOr<std::vector<float>> TrainKMeans(const float* points, size_t n, uint32_t dims,
                                               const KMeansOptions& options) {
  if (options.clusters == 0) return absl::InvalidArgumentError("k-means needs at least 1 cluster");
  if (n < options.clusters) {
    return absl::FailedPreconditionError(absl::StrCat("k-means needs at least ", options.clusters,
                                                      " points for ", options.clusters,
                                                      " clusters, got ", n));
  }
  try {
    faiss::ClusteringParameters params;
    params.niter = 1;  // one Lloyd step per call: progress and cancellation between steps
    params.seed = static_cast<int>(options.seed & 0x7fffffff);
    params.spherical = options.spherical;
    params.max_points_per_centroid = 1 << 30;  // the caller chose the sample already
    params.min_points_per_centroid = 1;
    faiss::Clustering clustering(static_cast<int>(dims), static_cast<int>(options.clusters),
                                 params);
    for (uint32_t iteration = 0; iteration < std::max(1u, options.iterations); ++iteration) {
      if (options.cancel != nullptr && options.cancel->load()) {
        return absl::CancelledError("k-means cancelled");
      }
      faiss::IndexFlatL2 assigner(static_cast<faiss::Index::idx_t>(dims));
      // Centroids left by the previous step initialise this one.
      clustering.train(static_cast<faiss::Index::idx_t>(n), points, assigner);
      if (options.progress) options.progress(double(iteration + 1) / options.iterations);
    }
    return std::move(clustering.centroids);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("k-means failed: ", e.what()));
  }
}

absl::StatusOr<std::vector<uint32_t>> AssignNearest(const float* points, size_t n,
                                                    std::span<const float> centroids, uint32_t dims,
                                                    Metric metric) {
  if (dims == 0 || centroids.size() % dims != 0 || centroids.empty()) {
    return absl::InvalidArgumentError("assignment needs a non-empty centroid table");
  }
  try {
    std::unique_ptr<faiss::IndexFlat> index;
    if (metric == Metric::kL2) {
      index = std::make_unique<faiss::IndexFlatL2>(static_cast<faiss::Index::idx_t>(dims));
    } else {
      index = std::make_unique<faiss::IndexFlatIP>(static_cast<faiss::Index::idx_t>(dims));
    }
    index->add(static_cast<faiss::Index::idx_t>(centroids.size() / dims), centroids.data());
    std::vector<faiss::Index::idx_t> labels(n);
    index->assign(static_cast<faiss::Index::idx_t>(n), points, labels.data());
    std::vector<uint32_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(labels[i]);
    return out;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("assignment failed: ", e.what()));
  }
}

}  // namespace adanns::index
