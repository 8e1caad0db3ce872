// AVX2 ADC kernel: eight table entries per gather. Compiled alone with -mavx2 -mfma; called only
// after the dispatcher has checked the CPU.
#include <immintrin.h>

#include "quant/adc_scan.h"

namespace adanns::quant::internal {
namespace {

inline float HorizontalSum(__m256 v) {
  const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  return _mm_cvtss_f32(_mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 0x55)));
}

void ScanAvx2(const float* table, uint32_t m, const uint8_t* codes, const uint32_t* rows, size_t n,
              float* out) {
  // Entry j of a group of 8 sub-quantizers lives 256 * j floats further in the table.
  const __m256i offsets = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
  for (size_t i = 0; i < n; ++i) {
    PrefetchCodes(codes, m, rows, i, n);
    const uint8_t* code = CodesOf(codes, m, rows, i);
    __m256 acc = _mm256_setzero_ps();
    for (uint32_t j = 0; j < m; j += 8) {
      const __m256i index = _mm256_add_epi32(
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(code + j))),
          offsets);
      acc = _mm256_add_ps(acc,
                          _mm256_i32gather_ps(table + size_t{j} * kCentroidsPerSubspace, index, 4));
    }
    out[i] = HorizontalSum(acc);
  }
}

}  // namespace

const AdcKernel kAvx2Adc = {"avx2", ScanAvx2};

}  // namespace adanns::quant::internal
