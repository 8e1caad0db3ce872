// Helpers shared by the Engine/Collection suites (engine_test.cc, fresh_rows_test.cc): a small
// L2 collection's metadata and vectors seeded by id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/engine.h"

namespace adanns::server {

inline constexpr uint32_t kDim = 12;

inline storage::CollectionMeta Meta(const std::string& name, Metric metric = Metric::kL2) {
  storage::CollectionMeta meta;
  meta.name = name;
  meta.dim = kDim;
  meta.metric = metric;
  return meta;
}

inline std::vector<float> Values(uint64_t id) {
  std::vector<float> v(kDim);
  for (uint32_t j = 0; j < kDim; ++j) v[j] = static_cast<float>(id % 97) * 0.5f - j;
  return v;
}

inline absl::Status UpsertRange(Collection& collection, uint64_t first, uint64_t count) {
  std::vector<uint64_t> ids;
  std::vector<float> values;
  for (uint64_t id = first; id < first + count; ++id) {
    ids.push_back(id);
    const auto v = Values(id);
    values.insert(values.end(), v.begin(), v.end());
  }
  return collection.Upsert(ids, values);
}

}  // namespace adanns::server
