// A collection's persisted description, and its byte encoding in the metadata column family.
// The encoding is versioned so later fields can be added without breaking old stores.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"

namespace adanns::storage {

// How the resident prefix of each vector (CollectionMeta::resident_dims) is held in RAM.
// Numeric values are persisted on disk: never renumber.
enum class ResidentPrecision : uint8_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt8 = 2,
};

// nullopt for a code that names no precision.
std::optional<ResidentPrecision> ResidentPrecisionFromCode(uint8_t code);

struct CollectionMeta {
  std::string name;
  uint32_t id = 0;  // internal key prefix, assigned by the store, never reused
  uint32_t dim = 0;
  Metric metric = Metric::kL2;
  std::vector<uint32_t> nesting_dims;
  // Memory tiers: only the first resident_dims of each vector are kept in RAM (the re-rank stage
  // reads full vectors from the store). 0 means every dim is resident. At most `dim`.
  uint32_t resident_dims = 0;
  // Precision of the resident prefix in RAM; the store always keeps full float32 vectors.
  ResidentPrecision resident_precision = ResidentPrecision::kFloat32;
};

// Writes encoding version 1 when the collection uses neither tier field (resident_dims 0, float32),
// so a store without memory tiers stays readable by builds that only know version 1; version 2
// otherwise.
std::string EncodeCollectionMeta(const CollectionMeta& meta);
// Reads versions 1 and 2 (version 1 decodes as resident_dims 0, float32). DATA_LOSS when the
// bytes are truncated, of an unknown encoding version or inconsistent (resident_dims > dim, an
// unknown precision code).
absl::StatusOr<CollectionMeta> DecodeCollectionMeta(std::string_view bytes);

}  // namespace adanns::storage
