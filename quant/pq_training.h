// Product-quantizer training and encoding for FAISS's OPQMatrix, faster on the small sub-spaces
// AdANNS codebooks use. FAISS's own k-means ranks the 256 centroids of a sub-space with a BLAS
// product and a per-point result handler, handing off between OpenMP and BLAS threads; for 4- to
// 50-dim sub-spaces that overhead, not the arithmetic, dominated (a 128x16 codebook trained in
// 52-82 s on Fashion-MNIST). Here the centroids are kept transposed and each point's 256
// distances are FMAs over them, with a vectorised running argmin.
#pragma once

#include <faiss/impl/ProductQuantizer.h>

#include <cstddef>
#include <cstdint>

namespace adanns::quant::internal {

// labels[i] = index of the centroid nearest (squared L2) to point i (n points of `dims` floats,
// point i at points + i * stride). `transposed` holds the k centroids as dims x k (centroid c's
// dimension t at transposed[t * k + c]) and `norms` their squared norms; k is a multiple of 8.
void AssignNearest(const float* points, size_t stride, size_t n, uint32_t dims,
                   const float* transposed, const float* norms, uint32_t k, uint32_t* labels);
// The two implementations AssignNearest picks from: portable C++, and AVX2 + FMA (k a multiple of
// 64, only on CPUs that have both).
void AssignNearestPortable(const float* points, size_t stride, size_t n, uint32_t dims,
                           const float* transposed, const float* norms, uint32_t k,
                           uint32_t* labels);
void AssignNearestAvx2(const float* points, size_t stride, size_t n, uint32_t dims,
                       const float* transposed, const float* norms, uint32_t k, uint32_t* labels);

// A faiss::ProductQuantizer (8 bits per sub-quantizer) whose train() and compute_codes() run our
// k-means and assignment (OpenMP over points; cp.niter Lloyd iterations, cp.seed). Given to
// OPQMatrix as its `pq`, it also serves the rotation's alternating optimisation.
class FastProductQuantizer : public faiss::ProductQuantizer {
 public:
  FastProductQuantizer(size_t dims, size_t m) : faiss::ProductQuantizer(dims, m, 8) {}

  void train(size_t n, const float* x) override;
  void compute_codes(const float* x, uint8_t* codes, size_t n) const override;
};

}  // namespace adanns::quant::internal
