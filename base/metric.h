// The similarity a collection is searched with, and how its scores order.
// Shared by storage (persisted as its numeric value), index, server and client.
#pragma once

#include <cstdint>
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

}  // namespace adanns
