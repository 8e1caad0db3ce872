// Scalar kernels and the run-time ISA dispatcher.
#include "index/distance.h"

#include <cstdlib>
#include <string>

namespace adanns::index {
namespace internal {
namespace {

// Eight independent accumulators: the same summation shape the SIMD kernels use, and fast
// enough without reassociation flags.
float L2SqrScalar(const float* a, const float* b, size_t d) {
  float acc[8] = {};
  size_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (size_t t = 0; t < 8; ++t) {
      const float diff = a[j + t] - b[j + t];
      acc[t] += diff * diff;
    }
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < d; ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return sum;
}

float DotScalar(const float* a, const float* b, size_t d) {
  float acc[8] = {};
  size_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (size_t t = 0; t < 8; ++t) acc[t] += a[j + t] * b[j + t];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < d; ++j) sum += a[j] * b[j];
  return sum;
}

void DotAndNormScalar(const float* a, const float* b, size_t d, float* dot, float* norm_sqr) {
  *dot = DotScalar(a, b, d);
  *norm_sqr = DotScalar(b, b, d);
}

}  // namespace

const DistanceKernels kScalarKernels = {"scalar",
                                        &ForEachRow<L2SqrScalar>,
                                        &ForEachRow<DotScalar>,
                                        &ForEachRowPair<DotAndNormScalar>,
                                        &L2SqrScalar,
                                        &DotScalar};
}  // namespace internal

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  }
  return false;
}

const DistanceKernels& KernelsFor(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return internal::kAvx2Kernels;
    case Isa::kAvx512:
      return internal::kAvx512Kernels;
    case Isa::kScalar:
      break;
  }
  return internal::kScalarKernels;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

Isa BestIsa() {
  Isa cap = Isa::kAvx512;
  if (const char* env = std::getenv("ADANNS_ISA")) {
    const std::string value(env);
    if (value == "scalar") cap = Isa::kScalar;
    if (value == "avx2") cap = Isa::kAvx2;
  }
  Isa best = Isa::kScalar;
  for (Isa isa : SupportedIsas()) {
    if (static_cast<int>(isa) <= static_cast<int>(cap)) best = isa;
  }
  return best;
}

const DistanceKernels& BestKernels() {
  static const DistanceKernels& kernels = KernelsFor(BestIsa());
  return kernels;
}

}  // namespace adanns::index
