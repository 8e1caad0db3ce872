// One AdANNS-OPQ codebook: an orthonormal rotation (OPQ) and M 8-bit product-quantizer codebooks
// learned on the first `prefix_dims` floats of the vectors (M bytes per vector). FAISS's OPQMatrix
// learns the rotation around our own PQ k-means (pq_training.h); the trained state is plain floats
// we serialize and score with ourselves. FAISS types stay in the .cc files.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/blob_io.h"
#include "base/codebook_spec.h"

namespace adanns::quant {

struct OpqTraining {
  // Outer OPQ iterations (rotation, then PQ re-training), as FAISS's OPQMatrix::niter.
  uint32_t opq_iterations = 10;
  // k-means iterations of the final PQ.
  uint32_t pq_iterations = 25;
  uint64_t seed = 1234;
};

class OpqCodebook {
 public:
  // Trains on n prefixes (n x spec.prefix_dims floats, row-major; normalised by the caller for
  // cosine). Needs n >= 256 (one training vector per centroid at least).
  static absl::StatusOr<OpqCodebook> Train(const CodebookSpec& spec, std::span<const float> train,
                                           const OpqTraining& training);

  const CodebookSpec& spec() const { return spec_; }
  uint32_t subspace_dims() const { return spec_.prefix_dims / spec_.m; }

  // Rotates n prefixes (n x prefix_dims) into `out` (same shape).
  void Rotate(const float* prefixes, size_t n, float* out) const;
  // Codes (n x m bytes) of n prefixes.
  void Encode(const float* prefixes, size_t n, uint8_t* codes) const;
  // The ADC table (m x 256) of a rotated query: squared L2 distances to each centroid, or negated
  // inner products (smaller = better either way).
  void BuildTable(const float* rotated_query, bool inner_product, float* table) const;
  // Reconstructs rotated vectors from codes (n x prefix_dims), for tests and diagnostics.
  void Decode(const uint8_t* codes, size_t n, float* rotated) const;

  // The trained state, row-major: rotation (prefix_dims x prefix_dims; rotated = rotation * x)
  // and centroids (m x 256 x subspace_dims).
  std::span<const float> rotation() const;
  std::span<const float> centroids() const;
  size_t memory_bytes() const;

  // Appends the spec, rotation and centroids; Read takes them back (false when truncated or
  // inconsistent).
  void AppendTo(std::string& out) const;
  static absl::StatusOr<OpqCodebook> Read(BlobReader& reader);

 private:
  struct State;  // FAISS's transform and product quantizer, immutable once trained
  OpqCodebook(CodebookSpec spec, std::vector<float> rotation, std::vector<float> centroids);

  CodebookSpec spec_;
  std::shared_ptr<const State> state_;
};

}  // namespace adanns::quant
