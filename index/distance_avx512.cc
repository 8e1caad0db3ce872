// AVX-512F kernels with masked tails. This translation unit alone is compiled with -mavx512f;
// it is only called after the dispatcher has checked the CPU supports it.
#include <immintrin.h>

#include "index/distance.h"

namespace adanns::index::internal {
namespace {

inline __mmask16 TailMask(size_t remaining) {
  return static_cast<__mmask16>((1u << remaining) - 1u);
}

float L2SqrAvx512(const float* a, const float* b, size_t d) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
  }
  for (; j < d; j += 16) {
    const __mmask16 mask = d - j >= 16 ? static_cast<__mmask16>(0xFFFF) : TailMask(d - j);
    const __m512 diff =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, a + j), _mm512_maskz_loadu_ps(mask, b + j));
    acc0 = _mm512_fmadd_ps(diff, diff, acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

float DotAvx512(const float* a, const float* b, size_t d) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), acc1);
  }
  for (; j < d; j += 16) {
    const __mmask16 mask = d - j >= 16 ? static_cast<__mmask16>(0xFFFF) : TailMask(d - j);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + j), _mm512_maskz_loadu_ps(mask, b + j),
                           acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

void DotAndNormAvx512(const float* a, const float* b, size_t d, float* dot, float* norm_sqr) {
  __m512 dot_acc = _mm512_setzero_ps();
  __m512 norm_acc = _mm512_setzero_ps();
  for (size_t j = 0; j < d; j += 16) {
    const __mmask16 mask = d - j >= 16 ? static_cast<__mmask16>(0xFFFF) : TailMask(d - j);
    const __m512 vb = _mm512_maskz_loadu_ps(mask, b + j);
    dot_acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + j), vb, dot_acc);
    norm_acc = _mm512_fmadd_ps(vb, vb, norm_acc);
  }
  *dot = _mm512_reduce_add_ps(dot_acc);
  *norm_sqr = _mm512_reduce_add_ps(norm_acc);
}

}  // namespace

const DistanceKernels kAvx512Kernels = {"avx512",
                                        &ForEachRow<L2SqrAvx512>,
                                        &ForEachRow<DotAvx512>,
                                        &ForEachRowPair<DotAndNormAvx512>,
                                        &L2SqrAvx512,
                                        &DotAvx512};

}  // namespace adanns::index::internal
