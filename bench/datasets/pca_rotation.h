// Full-rank PCA rotation (no whitening, no truncation): centres on the training mean and rotates
// onto the principal axes in decreasing variance, so L2 distances are kept and prefixes nest.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/datasets/matrix.h"

namespace faiss {
struct PCAMatrix;
}

namespace adanns::bench {

class PcaRotation {
 public:
  // Learns mean and components from `train` (rows x dim, rows >= dim). INTERNAL when FAISS fails
  // or hands back components that are not in decreasing-variance order or not orthonormal.
  static absl::StatusOr<PcaRotation> Train(const FloatMatrix& train);

  PcaRotation(PcaRotation&&) noexcept;
  PcaRotation& operator=(PcaRotation&&) noexcept;
  ~PcaRotation();

  uint32_t dim() const { return dim_; }
  // Training mean, dim floats.
  const std::vector<float>& mean() const;

  // y = R (x - mean) for every row of `data` (cols must equal dim()).
  absl::StatusOr<FloatMatrix> Apply(const FloatMatrix& data) const;

 private:
  PcaRotation(uint32_t dim, std::unique_ptr<faiss::PCAMatrix> pca);

  uint32_t dim_ = 0;
  std::unique_ptr<faiss::PCAMatrix> pca_;
};

}  // namespace adanns::bench
