// The body of the index-blob fuzz targets: deserialize the input as it is and resealed (checksum
// recomputed), and run whatever loads: plans, searches and a serialize round trip must all work
// on it, or the loader should have refused it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_world.h"

namespace adanns::fuzz {

// Searches a loaded index with its default plan and a few explicit ones, from a stored row.
inline void ExerciseLoaded(const index::ServedIndex& loaded) {
  const FuzzWorld& world = World();
  const std::span<const float> query(world.table.RowData(0), kDim);
  for (const uint32_t k : {1u, 10u}) {
    for (const uint32_t breadth : {0u, 1u, 64u}) {
      index::Plan requested;
      if (breadth > 0 && loaded.kind() == "hnsw") requested.ef = breadth;
      if (breadth > 0 && loaded.kind() == "ivf") requested.nprobe = breadth;
      if (breadth > 0 && loaded.kind() == "opq") requested.rerank_candidates = breadth;
      const absl::StatusOr<index::Plan> plan = loaded.ResolvePlan(requested, k);
      if (!plan.ok()) continue;
      const index::SearchResult result = loaded.Search(world.table, query, k, *plan);
      FUZZ_CHECK(result.hits.size() <= k);
      for (const index::Hit& hit : result.hits) FUZZ_CHECK(world.table.RowOf(hit.id).has_value());
    }
  }
}

// `Deserialize` is the index type's static loader.
template <typename Index>
void FuzzIndexBlob(const uint8_t* data, size_t size) {
  const FuzzWorld& world = World();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const std::string& bytes : {std::string(input), Resealed(input)}) {
    const auto loaded = Index::Deserialize(bytes, world.table, kMetric);
    if (!loaded.ok()) {
      FUZZ_CHECK(!loaded.status().message().empty());
      continue;
    }
    ExerciseLoaded(**loaded);
    const absl::StatusOr<std::string> saved = (*loaded)->Serialize();
    FUZZ_CHECK(saved.ok());
    FUZZ_CHECK(Index::Deserialize(*saved, world.table, kMetric).ok());
  }
}

}  // namespace adanns::fuzz
