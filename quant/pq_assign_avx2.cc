// AVX2 + FMA nearest-centroid kernel for PQ training and encoding (see pq_training.h). Compiled
// alone with -mavx2 -mfma; called only after the CPU was checked. 64 centroids at a time stay in
// eight accumulators while the point's dimensions stream past, then a running 8-lane argmin.
#include <immintrin.h>

#include <limits>

#include "quant/pq_training.h"

namespace adanns::quant::internal {

void AssignNearestAvx2(const float* points, size_t stride, size_t n, uint32_t dims,
                       const float* transposed, const float* norms, uint32_t k, uint32_t* labels) {
  constexpr uint32_t kBlock = 64;  // centroids per pass: 8 accumulators of 8
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (size_t i = 0; i < n; ++i) {
    const float* x = points + i * stride;
    __m256 best = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256i best_index = _mm256_setzero_si256();
    for (uint32_t block = 0; block < k; block += kBlock) {
      __m256 acc[8];
      for (int u = 0; u < 8; ++u) acc[u] = _mm256_loadu_ps(norms + block + 8 * u);
      for (uint32_t t = 0; t < dims; ++t) {
        const __m256 weight = _mm256_set1_ps(-2.0f * x[t]);
        const float* row = transposed + size_t{t} * k + block;
        for (int u = 0; u < 8; ++u) {
          acc[u] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(row + 8 * u), acc[u]);
        }
      }
      for (int u = 0; u < 8; ++u) {
        // Strictly closer only: within a lane the first (lowest) index wins ties.
        const __m256 closer = _mm256_cmp_ps(acc[u], best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, acc[u], closer);
        const __m256i index = _mm256_add_epi32(lane, _mm256_set1_epi32(block + 8 * u));
        best_index = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(best_index), _mm256_castsi256_ps(index), closer));
      }
    }
    alignas(32) float values[8];
    alignas(32) uint32_t indexes[8];
    _mm256_store_ps(values, best);
    _mm256_store_si256(reinterpret_cast<__m256i*>(indexes), best_index);
    uint32_t label = indexes[0];
    float nearest = values[0];
    for (int l = 1; l < 8; ++l) {
      if (values[l] < nearest || (values[l] == nearest && indexes[l] < label)) {
        nearest = values[l];
        label = indexes[l];
      }
    }
    labels[i] = label;
  }
}

}  // namespace adanns::quant::internal
