// OPQ training and encoding through FAISS; query rotation and ADC tables with our own kernels.
#include "quant/opq_codebook.h"

#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/ProductQuantizer.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/distance.h"
#include "index/work_counter.h"
#include "quant/adc_scan.h"
#include "quant/pq_training.h"

namespace adanns::quant {

struct OpqCodebook::State {
  State(uint32_t dims, uint32_t m, std::vector<float> rotation, std::vector<float> centroids)
      : transform(static_cast<int>(dims), static_cast<int>(dims), false), pq(dims, m) {
    transform.A = std::move(rotation);
    transform.is_trained = true;
    pq.centroids = std::move(centroids);
  }
  faiss::LinearTransform transform;
  internal::FastProductQuantizer pq;
};

OpqCodebook::OpqCodebook(CodebookSpec spec, std::vector<float> rotation,
                         std::vector<float> centroids)
    : spec_(spec),
      state_(std::make_shared<const State>(spec.prefix_dims, spec.m, std::move(rotation),
                                           std::move(centroids))) {}

absl::StatusOr<OpqCodebook> OpqCodebook::Train(const CodebookSpec& spec,
                                               std::span<const float> train,
                                               const OpqTraining& training) {
  const size_t dims = spec.prefix_dims;
  const size_t n = train.size() / dims;
  if (n < kCentroidsPerSubspace) {
    return absl::FailedPreconditionError(absl::StrCat("training ", CodebookName(spec),
                                                      " needs at least ", kCentroidsPerSubspace,
                                                      " vectors, got ", n));
  }
  try {
    // FAISS's rotation learning with our PQ k-means inside (pq_training.h).
    internal::FastProductQuantizer opq_pq(dims, spec.m);
    opq_pq.cp.seed = static_cast<int>(training.seed);
    faiss::OPQMatrix opq(static_cast<int>(dims), static_cast<int>(spec.m));
    opq.pq = &opq_pq;
    opq.niter = static_cast<int>(training.opq_iterations);
    opq.max_train_points = n;  // the caller sampled already
    opq.verbose = false;
    opq.train(static_cast<faiss::Index::idx_t>(n), train.data());
    std::vector<float> rotated(n * dims);
    opq.apply_noalloc(static_cast<faiss::Index::idx_t>(n), train.data(), rotated.data());
    internal::FastProductQuantizer pq(dims, spec.m);
    pq.cp.niter = static_cast<int>(training.pq_iterations);
    pq.cp.seed = static_cast<int>(training.seed);
    pq.train(n, rotated.data());
    return OpqCodebook(spec, std::move(opq.A), std::move(pq.centroids));
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(absl::StrCat("training ", CodebookName(spec), ": ", e.what()));
  }
}

void OpqCodebook::Rotate(const float* prefixes, size_t n, float* out) const {
  const size_t dims = spec_.prefix_dims;
  if (n >= 16) {  // batches go through BLAS
    state_->transform.apply_noalloc(static_cast<faiss::Index::idx_t>(n), prefixes, out);
    return;
  }
  const index::DistanceKernels& kernels = index::BestKernels();
  for (size_t i = 0; i < n; ++i) {
    kernels.dot(prefixes + i * dims, state_->transform.A.data(), dims, dims, dims, out + i * dims);
  }
  index::CountMultiplyAdds(n * dims * dims);
}

void OpqCodebook::Encode(const float* prefixes, size_t n, uint8_t* codes) const {
  std::vector<float> rotated(n * spec_.prefix_dims);
  Rotate(prefixes, n, rotated.data());
  state_->pq.compute_codes(rotated.data(), codes, n);
}

void OpqCodebook::Decode(const uint8_t* codes, size_t n, float* rotated) const {
  state_->pq.decode(codes, rotated, n);
}

void OpqCodebook::BuildTable(const float* rotated_query, bool inner_product, float* table) const {
  const index::DistanceKernels& kernels = index::BestKernels();
  const size_t sub = subspace_dims();
  const float* centroids = state_->pq.centroids.data();
  for (uint32_t j = 0; j < spec_.m; ++j) {
    const float* query = rotated_query + j * sub;
    const float* block = centroids + size_t{j} * kCentroidsPerSubspace * sub;
    float* out = table + size_t{j} * kCentroidsPerSubspace;
    if (inner_product) {
      kernels.dot(query, block, sub, kCentroidsPerSubspace, sub, out);
      for (uint32_t c = 0; c < kCentroidsPerSubspace; ++c) out[c] = -out[c];
    } else {
      kernels.l2_sqr(query, block, sub, kCentroidsPerSubspace, sub, out);
    }
  }
  index::CountMultiplyAdds(size_t{spec_.m} * kCentroidsPerSubspace * sub);
}

std::span<const float> OpqCodebook::rotation() const { return state_->transform.A; }
std::span<const float> OpqCodebook::centroids() const { return state_->pq.centroids; }
size_t OpqCodebook::memory_bytes() const {
  return (rotation().size() + centroids().size()) * sizeof(float);
}

void OpqCodebook::AppendTo(std::string& out) const {
  AppendPod(out, spec_.prefix_dims);
  AppendPod(out, spec_.m);
  out.append(reinterpret_cast<const char*>(rotation().data()), rotation().size_bytes());
  out.append(reinterpret_cast<const char*>(centroids().data()), centroids().size_bytes());
}

absl::StatusOr<OpqCodebook> OpqCodebook::Read(BlobReader& reader) {
  CodebookSpec spec;
  if (!reader.Get(&spec.prefix_dims) || !reader.Get(&spec.m)) {
    return absl::DataLossError("codebook truncated");
  }
  if (absl::Status valid = ValidateCodebookSpec(spec, spec.prefix_dims); !valid.ok()) {
    return absl::DataLossError(absl::StrCat("codebook rejected: ", valid.message()));
  }
  std::vector<float> rotation, centroids;
  const size_t dims = spec.prefix_dims;
  if (!reader.GetFloats(dims * dims, &rotation) ||
      !reader.GetFloats(size_t{kCentroidsPerSubspace} * dims, &centroids)) {
    return absl::DataLossError(absl::StrCat("codebook ", CodebookName(spec), " truncated"));
  }
  return OpqCodebook(spec, std::move(rotation), std::move(centroids));
}

}  // namespace adanns::quant
