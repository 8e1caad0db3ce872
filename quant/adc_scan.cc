// Scalar ADC kernel and the run-time dispatcher.
#include "quant/adc_scan.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace adanns::quant {
namespace internal {
namespace {

void ScanScalar(const float* table, uint32_t m, const uint8_t* codes, const uint32_t* rows,
                size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    PrefetchCodes(codes, m, rows, i, n);
    const uint8_t* code = CodesOf(codes, m, rows, i);
    // Eight code bytes per load (shifts instead of byte loads leave the load ports to the table)
    // and four partial sums keep the adds independent.
    float sum[4] = {0, 0, 0, 0};
    const float* group = table;
    for (uint32_t j = 0; j < m; j += 8, group += 8 * kCentroidsPerSubspace) {
      uint64_t bytes;
      std::memcpy(&bytes, code + j, sizeof(bytes));
      for (uint32_t t = 0; t < 8; ++t) {
        sum[t % 4] += group[t * kCentroidsPerSubspace + ((bytes >> (8 * t)) & 0xff)];
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
  static const AdcKernel& kernel = []() -> const AdcKernel& {
    const char* choice = std::getenv("ADANNS_ADC_KERNEL");
    if (choice != nullptr && std::string_view(choice) == "gather") {
      return AdcKernelFor(index::BestIsa());
    }
    return internal::kScalarAdc;
  }();
  return kernel;
}

}  // namespace adanns::quant
