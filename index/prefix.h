// A stored prefix of a vector: what an index that works on one prefix keeps and compares (the
// metric's normalisation applied to the prefix alone).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/metric.h"

namespace adanns {

// Copies the first `dims` floats of `vector` to `out`, normalised for cosine (a zero prefix stays
// zero): what an index that works on one prefix stores and compares.
inline void CopyPrefix(const float* vector, uint32_t dims, Metric metric, float* out) {
  std::memcpy(out, vector, dims * sizeof(float));
  if (metric != Metric::kCosine) return;
  double norm_sqr = 0;
  for (uint32_t j = 0; j < dims; ++j) norm_sqr += double(out[j]) * out[j];
  if (norm_sqr > 0) {
    const auto inv = static_cast<float>(1.0 / std::sqrt(norm_sqr));
    for (uint32_t j = 0; j < dims; ++j) out[j] *= inv;
  }
}

}  // namespace adanns
