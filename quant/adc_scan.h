// Asymmetric distance computation (ADC) over PQ codes: a query's distance to a coded vector is the
// sum, over the M sub-quantizers, of one entry of a per-query table (table[m * 256 + code[m]]).
// One kernel per ISA (the AVX2 and AVX-512 ones gather 8 or 16 entries at once), picked at run
// time like index/distance.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "index/distance.h"
#include "quant/codebook_spec.h"

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
// index::BestIsa()'s kernel.
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
