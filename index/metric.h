// The similarity a collection is searched with, and how its scores order.
// Shared by storage (persisted as its numeric value), index and server.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace adanns {

// Numeric values are persisted on disk: never renumber.
enum class Metric : uint8_t {
  kL2 = 1,            // squared Euclidean distance, lower is better
  kInnerProduct = 2,  // dot product, higher is better
  kCosine = 3,        // cosine similarity of (prefix-)normalised vectors, higher is better
};

inline bool LowerIsBetter(Metric metric) { return metric == Metric::kL2; }

inline std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2:
      return "l2";
    case Metric::kInnerProduct:
      return "inner_product";
    case Metric::kCosine:
      return "cosine";
  }
  return "unknown";
}

inline std::optional<Metric> MetricFromCode(uint8_t code) {
  if (code >= 1 && code <= 3) return static_cast<Metric>(code);
  return std::nullopt;
}

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
