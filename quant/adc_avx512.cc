// AVX-512 ADC kernel: sixteen table entries per gather (a remaining group of eight uses AVX2).
// Compiled alone with -mavx512f -mavx2; called only after the dispatcher has checked the CPU.
#include <immintrin.h>

#include "quant/adc_scan.h"

namespace adanns::quant::internal {
namespace {

void ScanAvx512(const float* table, uint32_t m, const uint8_t* codes, const uint32_t* rows,
                size_t n, float* out) {
  const __m512i offsets16 =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(kCentroidsPerSubspace));
  const __m256i offsets8 = _mm512_castsi512_si256(offsets16);
  const uint32_t wide = m - m % 16;
  for (size_t i = 0; i < n; ++i) {
    PrefetchCodes(codes, m, rows, i, n);
    const uint8_t* code = CodesOf(codes, m, rows, i);
    __m512 acc = _mm512_setzero_ps();
    for (uint32_t j = 0; j < wide; j += 16) {
      const __m512i index = _mm512_add_epi32(
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + j))),
          offsets16);
      acc = _mm512_add_ps(acc,
                          _mm512_i32gather_ps(index, table + size_t{j} * kCentroidsPerSubspace, 4));
    }
    if (wide < m) {
      const __m256i index = _mm256_add_epi32(
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(code + wide))),
          offsets8);
      acc = _mm512_add_ps(acc, _mm512_zextps256_ps512(_mm256_i32gather_ps(
                                   table + size_t{wide} * kCentroidsPerSubspace, index, 4)));
    }
    out[i] = _mm512_reduce_add_ps(acc);
  }
}

}  // namespace

const AdcKernel kAvx512Adc = {"avx512", ScanAvx512};

}  // namespace adanns::quant::internal
