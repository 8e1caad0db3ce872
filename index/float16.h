// What a float16 copy of a float keeps: the range (rows kept as fp16 refuse values outside it,
// which would silently become ±inf) and the value (round to nearest, ties to even, as the GPU's
// __float2half does). Plain C++: the host mirror and the GPU checks use it; no _Float16 needed.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace adanns::index {

// The largest finite float16.
inline constexpr float kFloat16Max = 65504.0f;

// Index of the first value with |x| > kFloat16Max (or not finite), or nullopt when all fit.
inline std::optional<size_t> FirstOutsideFloat16(std::span<const float> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(std::fabs(values[i]) <= kFloat16Max)) return i;
  }
  return std::nullopt;
}

// The float16 nearest to x (ties to even), as a float. x must be within ±kFloat16Max.
inline float RoundToFloat16(float x) {
  constexpr float kSubnormalQuantum = 0x1p-24f;  // float16's spacing below 2^-14
  if (std::fabs(x) < 0x1p-14f) {
    return std::nearbyint(x / kSubnormalQuantum) * kSubnormalQuantum;
  }
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  // Keep 10 of float's 23 mantissa bits: add just under half of the dropped range (plus the kept
  // lowest bit, so exact halves go to the even neighbour), then clear the dropped bits.
  bits += 0x0FFFu + ((bits >> 13) & 1u);
  bits &= ~0x1FFFu;
  float rounded;
  std::memcpy(&rounded, &bits, sizeof(rounded));
  return rounded;
}

}  // namespace adanns::index
