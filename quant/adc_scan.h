// Asymmetric distance computation (ADC) over PQ codes: a query's distance to a coded vector is the
// sum, over the M sub-quantizers, of one entry of a per-query table (table[m * 256 + code[m]]).
// A scalar kernel that reads eight code bytes per load, and AVX2 / AVX-512 kernels that gather 8
// or 16 table entries per instruction. The scan is bound by the load ports either way (M table
// loads per code), and on this project's AMD EPYC machines the gathers measured 1.5-2.5x slower
// than the scalar kernel (adanns-micro-adc), so the scalar one is the default everywhere;
// ADANNS_ADC_KERNEL=gather picks the widest gather kernel the CPU supports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/codebook_spec.h"
#include "index/distance.h"

namespace adanns::quant {

struct AdcKernel {
  std::string_view name;
  // out[i] = sum over j < m of table[j * 256 + c[j]], where c = codes + r * m with r = rows[i]
  // when `rows` is given (scattered members of probed lists), else r = i (a contiguous scan).
  void (*scan)(const float* table, uint32_t m, const uint8_t* codes, const uint32_t* rows, size_t n,
               float* out);
};

// The kernel of one ISA; only call with a supported ISA.
const AdcKernel& AdcKernelFor(index::Isa isa);
// The kernel searches use: the scalar one, or with ADANNS_ADC_KERNEL=gather index::BestIsa()'s.
const AdcKernel& BestAdcKernel();

namespace internal {
extern const AdcKernel kScalarAdc;
extern const AdcKernel kAvx2Adc;
extern const AdcKernel kAvx512Adc;

// Codes of scattered rows this many entries ahead are requested before they are read.
inline constexpr size_t kAdcPrefetchAhead = 8;

inline const uint8_t* CodesOf(const uint8_t* codes, uint32_t m, const uint32_t* rows, size_t i) {
  return codes + (rows != nullptr ? static_cast<size_t>(rows[i]) : i) * m;
}

inline void PrefetchCodes(const uint8_t* codes, uint32_t m, const uint32_t* rows, size_t i,
                          size_t n) {
  if (rows != nullptr && i + kAdcPrefetchAhead < n) {
    __builtin_prefetch(CodesOf(codes, m, rows, i + kAdcPrefetchAhead));
  }
}
}  // namespace internal

}  // namespace adanns::quant
