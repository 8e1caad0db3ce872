// AVX2 + FMA kernels. This translation unit alone is compiled with -mavx2 -mfma; it is only
// called after the dispatcher has checked the CPU supports both.
#include <immintrin.h>

#include "index/distance.h"

namespace adanns::index::internal {
namespace {

inline float HorizontalSum(__m256 v) {
  const __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  const __m128 sum1 = _mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 0x55));
  return _mm_cvtss_f32(sum1);
}

float L2SqrAvx2(const float* a, const float* b, size_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  if (j + 8 <= d) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    j += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; j < d; ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return sum;
}

float DotAvx2(const float* a, const float* b, size_t d) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), acc1);
  }
  if (j + 8 <= d) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
    j += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; j < d; ++j) sum += a[j] * b[j];
  return sum;
}

void DotAndNormAvx2(const float* a, const float* b, size_t d, float* dot, float* norm_sqr) {
  __m256 dot_acc = _mm256_setzero_ps();
  __m256 norm_acc = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 vb = _mm256_loadu_ps(b + j);
    dot_acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), vb, dot_acc);
    norm_acc = _mm256_fmadd_ps(vb, vb, norm_acc);
  }
  float dot_sum = HorizontalSum(dot_acc);
  float norm_sum = HorizontalSum(norm_acc);
  for (; j < d; ++j) {
    dot_sum += a[j] * b[j];
    norm_sum += b[j] * b[j];
  }
  *dot = dot_sum;
  *norm_sqr = norm_sum;
}

}  // namespace

const DistanceKernels kAvx2Kernels = {"avx2",
                                      &ForEachRow<L2SqrAvx2>,
                                      &ForEachRow<DotAvx2>,
                                      &ForEachRowPair<DotAndNormAvx2>,
                                      &L2SqrAvx2,
                                      &DotAvx2};

}  // namespace adanns::index::internal
