// Scalar ADC kernel and the run-time dispatcher.
#include "quant/adc_scan.h"

namespace adanns::quant {
namespace internal {
namespace {

void ScanScalar(const float* table, uint32_t m, const uint8_t* codes, const uint32_t* rows,
                size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    PrefetchCodes(codes, m, rows, i, n);
    const uint8_t* code = CodesOf(codes, m, rows, i);
    // Four partial sums keep the adds independent.
    float sum[4] = {0, 0, 0, 0};
    for (uint32_t j = 0; j < m; j += 4) {
      for (uint32_t t = 0; t < 4; ++t) {
        sum[t] += table[(j + t) * kCentroidsPerSubspace + code[j + t]];
      }
    }
    out[i] = (sum[0] + sum[1]) + (sum[2] + sum[3]);
  }
}

}  // namespace

const AdcKernel kScalarAdc = {"scalar", ScanScalar};

}  // namespace internal

const AdcKernel& AdcKernelFor(index::Isa isa) {
  switch (isa) {
    case index::Isa::kAvx2:
      return internal::kAvx2Adc;
    case index::Isa::kAvx512:
      return internal::kAvx512Adc;
    case index::Isa::kScalar:
      break;
  }
  return internal::kScalarAdc;
}

const AdcKernel& BestAdcKernel() {
  static const AdcKernel& kernel = AdcKernelFor(index::BestIsa());
  return kernel;
}

}  // namespace adanns::quant
