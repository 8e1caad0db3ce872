#include "bench/datasets/pca_rotation.h"

#include <faiss/VectorTransform.h>

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace adanns::bench {

PcaRotation::PcaRotation(uint32_t dim, std::unique_ptr<faiss::PCAMatrix> pca)
    : dim_(dim), pca_(std::move(pca)) {}

PcaRotation::PcaRotation(PcaRotation&&) noexcept = default;
PcaRotation& PcaRotation::operator=(PcaRotation&&) noexcept = default;
PcaRotation::~PcaRotation() = default;

const std::vector<float>& PcaRotation::mean() const { return pca_->mean; }

absl::StatusOr<PcaRotation> PcaRotation::Train(const FloatMatrix& train) {
  const size_t dim = train.cols;
  if (dim == 0 || train.rows < dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("PCA needs at least dim rows: ", train.rows, " rows of ", dim, " dims"));
  }
  // eigen_power 0 = no whitening; d_out = d_in = a full rotation, not a projection.
  auto pca = std::make_unique<faiss::PCAMatrix>(static_cast<int>(dim), static_cast<int>(dim), 0.0f,
                                                /*random_rotation=*/false);
  // FAISS subsamples above max_points_per_d * dim rows; train on every row.
  pca->max_points_per_d = (train.rows + dim - 1) / dim;
  try {
    pca->train(static_cast<faiss::Index::idx_t>(train.rows), train.values.data());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("FAISS PCA training failed: ", e.what()));
  }
  if (pca->eigenvalues.size() < dim || pca->A.size() != dim * dim) {
    return absl::InternalError("FAISS PCA returned fewer components than dimensions");
  }
  if (!pca->is_orthonormal) {
    return absl::InternalError("FAISS PCA rotation is not orthonormal: distances would change");
  }
  // The eigenvalues (up to FAISS's scale) must come out largest first for the prefixes to nest.
  for (size_t i = 1; i < dim; ++i) {
    if (pca->eigenvalues[i] > pca->eigenvalues[i - 1]) {
      return absl::InternalError(absl::StrCat("FAISS PCA components out of order at ", i, ": ",
                                              pca->eigenvalues[i], " > ", pca->eigenvalues[i - 1]));
    }
  }
  return PcaRotation(static_cast<uint32_t>(dim), std::move(pca));
}

absl::StatusOr<FloatMatrix> PcaRotation::Apply(const FloatMatrix& data) const {
  if (data.cols != dim_) {
    return absl::InvalidArgumentError(
        absl::StrCat("PCA rotation expects ", dim_, " dims, got ", data.cols));
  }
  FloatMatrix out = ZeroMatrix<float>(data.rows, dim_);
  try {
    pca_->apply_noalloc(static_cast<faiss::Index::idx_t>(data.rows), data.values.data(),
                        out.values.data());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("FAISS PCA apply failed: ", e.what()));
  }
  return out;
}

}  // namespace adanns::bench
