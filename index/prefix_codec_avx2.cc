// AVX2 + FMA + F16C prefix decoders. This translation unit alone is compiled with -mavx2 -mfma
// -mf16c; it is only called after the dispatcher has checked the CPU supports all three.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "index/prefix_codec.h"

namespace adanns::index::internal {
namespace {

// Eight binary16 values to eight floats (exact).
inline __m256 LoadFloat16x8(const uint8_t* at) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at)));
}

void DecodeFloat16Avx2(const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims, float* out) {
  const size_t value_bytes = size_t{dims} * sizeof(uint16_t);
  for (size_t i = 0; i < n; ++i) {
    PrefetchRowAhead(rows, row_bytes, i, n, value_bytes);
    const uint8_t* row = rows + i * row_bytes;
    float* decoded = out + i * dims;
    size_t j = 0;
    for (; j + 16 <= dims; j += 16) {
      _mm256_storeu_ps(decoded + j, LoadFloat16x8(row + j * 2));
      _mm256_storeu_ps(decoded + j + 8, LoadFloat16x8(row + (j + 8) * 2));
    }
    if (j + 8 <= dims) {
      _mm256_storeu_ps(decoded + j, LoadFloat16x8(row + j * 2));
      j += 8;
    }
    if (j < dims) {  // tail: through a zeroed buffer, reading and writing only the prefix
      const size_t rest = dims - j;
      alignas(16) uint16_t bits[8] = {};
      alignas(32) float values[8];
      std::memcpy(bits, row + j * 2, rest * sizeof(uint16_t));
      _mm256_store_ps(values, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<__m128i*>(bits))));
      std::memcpy(decoded + j, values, rest * sizeof(float));
    }
  }
}

// offset + scale * code, fused (one rounding, as the scalar decoder's std::fma).
inline __m256 DecodeInt8x8(__m128i codes, const float* offset, const float* scale) {
  const __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(codes));
  return _mm256_fmadd_ps(_mm256_loadu_ps(scale), values, _mm256_loadu_ps(offset));
}

void DecodeInt8Avx2(const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims,
                    const float* offset, const float* scale, float* out) {
  for (size_t i = 0; i < n; ++i) {
    PrefetchRowAhead(rows, row_bytes, i, n, dims);
    const uint8_t* row = rows + i * row_bytes;
    float* decoded = out + i * dims;
    size_t j = 0;
    for (; j + 16 <= dims; j += 16) {
      const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j));
      _mm256_storeu_ps(decoded + j, DecodeInt8x8(codes, offset + j, scale + j));
      _mm256_storeu_ps(decoded + j + 8,
                       DecodeInt8x8(_mm_srli_si128(codes, 8), offset + j + 8, scale + j + 8));
    }
    if (j + 8 <= dims) {
      const __m128i codes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + j));
      _mm256_storeu_ps(decoded + j, DecodeInt8x8(codes, offset + j, scale + j));
      j += 8;
    }
    for (; j < dims; ++j) decoded[j] = std::fma(scale[j], static_cast<float>(row[j]), offset[j]);
  }
}

constexpr int kRoundToNearestEven = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

void EncodeFloat16Avx2(const float* in, size_t n, uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), kRoundToNearestEven));
  }
  if (i < n) {
    const size_t rest = n - i;
    alignas(32) float values[8] = {};
    alignas(16) uint16_t bits[8];
    std::memcpy(values, in + i, rest * sizeof(float));
    _mm_store_si128(reinterpret_cast<__m128i*>(bits),
                    _mm256_cvtps_ph(_mm256_load_ps(values), kRoundToNearestEven));
    std::memcpy(out + i, bits, rest * sizeof(uint16_t));
  }
}

}  // namespace

const PrefixDecoders kAvx2PrefixDecoders = {"avx2", &DecodeFloat16Avx2, &DecodeInt8Avx2,
                                            &EncodeFloat16Avx2};

}  // namespace adanns::index::internal
