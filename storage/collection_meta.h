// A collection's persisted description, and its byte encoding in the metadata column family.
// The encoding is versioned so later fields can be added without breaking old stores.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"

namespace adanns::storage {

struct CollectionMeta {
  std::string name;
  uint32_t id = 0;  // internal key prefix, assigned by the store, never reused
  uint32_t dim = 0;
  Metric metric = Metric::kL2;
  std::vector<uint32_t> nesting_dims;
};

std::string EncodeCollectionMeta(const CollectionMeta& meta);
// DATA_LOSS when the bytes are truncated, of an unknown encoding version or inconsistent.
absl::StatusOr<CollectionMeta> DecodeCollectionMeta(std::string_view bytes);

}  // namespace adanns::storage
