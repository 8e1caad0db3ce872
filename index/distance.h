// Distance kernels over row blocks, one implementation per ISA (scalar, AVX2, AVX-512) picked at
// run time, so the default build needs no -march flags and still uses the widest units present.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace adanns::index {

enum class Isa { kScalar, kAvx2, kAvx512 };

// Each function scores `n` rows of `rows` (row i starts at rows + i * stride) against `query`,
// reading the first `d` floats of each.
struct DistanceKernels {
  std::string_view name;
  // out[i] = squared L2 distance.
  void (*l2_sqr)(const float* query, const float* rows, size_t stride, size_t n, size_t d,
                 float* out);
  // out[i] = dot product.
  void (*dot)(const float* query, const float* rows, size_t stride, size_t n, size_t d, float* out);
  // out_dot[i] = dot product, out_norm_sqr[i] = |row prefix|^2 (cosine in one pass).
  void (*dot_and_norm)(const float* query, const float* rows, size_t stride, size_t n, size_t d,
                       float* out_dot, float* out_norm_sqr);
  // One row: squared L2 distance and dot product (graph searches score scattered rows).
  float (*l2_sqr_one)(const float* query, const float* row, size_t d);
  float (*dot_one)(const float* query, const float* row, size_t d);
};

bool IsaSupported(Isa isa);
// Kernels of one ISA; only call with a supported ISA.
const DistanceKernels& KernelsFor(Isa isa);
// The widest supported ISA; ADANNS_ISA=scalar|avx2|avx512 in the environment caps it.
Isa BestIsa();
// BestIsa()'s kernels.
const DistanceKernels& BestKernels();
// Every supported ISA, narrowest first (for tests).
std::vector<Isa> SupportedIsas();

namespace internal {
extern const DistanceKernels kScalarKernels;
extern const DistanceKernels kAvx2Kernels;
extern const DistanceKernels kAvx512Kernels;

// A prefix scan reads d of every `stride` floats: rows a page or more apart defeat the hardware
// prefetcher (it stays within 4 KiB pages), so the scan becomes one cache miss per row. Rows this
// far ahead get their prefix's cache lines requested in software.
inline constexpr size_t kPrefetchRowsAhead = 16;

}  // namespace internal

// Requests the cache lines of the first d floats at `row`.
inline void PrefetchPrefix(const float* row, size_t d) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (size_t offset = 0; offset < d * sizeof(float); offset += 64) {
    __builtin_prefetch(bytes + offset);
  }
}

namespace internal {

// Applies a one-row kernel to each row of a block; shared by every ISA's translation unit.
template <float (*OneRow)(const float*, const float*, size_t)>
void ForEachRow(const float* query, const float* rows, size_t stride, size_t n, size_t d,
                float* out) {
  for (size_t i = 0; i < n; ++i) {
    if (stride != d && i + kPrefetchRowsAhead < n) {
      PrefetchPrefix(rows + (i + kPrefetchRowsAhead) * stride, d);
    }
    out[i] = OneRow(query, rows + i * stride, d);
  }
}

template <void (*OneRow)(const float*, const float*, size_t, float*, float*)>
void ForEachRowPair(const float* query, const float* rows, size_t stride, size_t n, size_t d,
                    float* out_a, float* out_b) {
  for (size_t i = 0; i < n; ++i) {
    if (stride != d && i + kPrefetchRowsAhead < n) {
      PrefetchPrefix(rows + (i + kPrefetchRowsAhead) * stride, d);
    }
    OneRow(query, rows + i * stride, d, &out_a[i], &out_b[i]);
  }
}
}  // namespace internal

}  // namespace adanns::index
