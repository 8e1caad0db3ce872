// AVX-512 prefix decoders with masked tails. This translation unit alone is compiled with
// -mavx512f -mavx512bw (byte/word masked loads); only called after the dispatcher checked both.
#include <immintrin.h>

#include "index/prefix_codec.h"

namespace adanns::index::internal {
namespace {

inline __mmask16 TailMask16(size_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

void DecodeFloat16Avx512(const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims,
                         float* out) {
  const size_t value_bytes = size_t{dims} * sizeof(uint16_t);
  for (size_t i = 0; i < n; ++i) {
    PrefetchRowAhead(rows, row_bytes, i, n, value_bytes);
    const uint8_t* row = rows + i * row_bytes;
    float* decoded = out + i * dims;
    size_t j = 0;
    for (; j + 16 <= dims; j += 16) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + j * 2));
      _mm512_storeu_ps(decoded + j, _mm512_cvtph_ps(bits));
    }
    if (j < dims) {
      const __mmask16 mask = TailMask16(dims - j);
      const __m256i bits = _mm512_castsi512_si256(_mm512_maskz_loadu_epi16(mask, row + j * 2));
      _mm512_mask_storeu_ps(decoded + j, mask, _mm512_cvtph_ps(bits));
    }
  }
}

// offset + scale * code for up to 16 lanes (the masked-off ones are neither read nor written).
inline void DecodeInt8x16(const uint8_t* codes, const float* offset, const float* scale,
                          __mmask16 mask, float* out) {
  const __m128i bytes = _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(mask, codes));
  const __m512 values = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
  const __m512 decoded = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, scale), values,
                                         _mm512_maskz_loadu_ps(mask, offset));
  _mm512_mask_storeu_ps(out, mask, decoded);
}

void DecodeInt8Avx512(const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims,
                      const float* offset, const float* scale, float* out) {
  for (size_t i = 0; i < n; ++i) {
    PrefetchRowAhead(rows, row_bytes, i, n, dims);
    const uint8_t* row = rows + i * row_bytes;
    float* decoded = out + i * dims;
    size_t j = 0;
    for (; j + 16 <= dims; j += 16) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j));
      const __m512 values = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
      _mm512_storeu_ps(decoded + j, _mm512_fmadd_ps(_mm512_loadu_ps(scale + j), values,
                                                    _mm512_loadu_ps(offset + j)));
    }
    if (j < dims) DecodeInt8x16(row + j, offset + j, scale + j, TailMask16(dims - j), decoded + j);
  }
}

constexpr int kRoundToNearestEven = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

void EncodeFloat16Avx512(const float* in, size_t n, uint16_t* out) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(in + i), kRoundToNearestEven));
  }
  if (i < n) {
    const __mmask16 mask = TailMask16(n - i);
    const __m256i bits = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(mask, in + i), kRoundToNearestEven);
    _mm512_mask_storeu_epi16(out + i, static_cast<__mmask32>(mask), _mm512_castsi256_si512(bits));
  }
}

}  // namespace

const PrefixDecoders kAvx512PrefixDecoders = {"avx512", &DecodeFloat16Avx512, &DecodeInt8Avx512,
                                              &EncodeFloat16Avx512};

}  // namespace adanns::index::internal
