// Seeded Gaussian clusters with a decaying spectrum (prefixes carry most of the structure): the
// synthetic data the index unit tests search.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "index/vector_table.h"

namespace adanns::index {

struct ClusteredSet {
  std::vector<std::vector<float>> centres;
  std::vector<std::vector<float>> queries;
};

inline std::vector<float> ClusteredVector(std::mt19937& rng, const std::vector<float>& centre) {
  std::normal_distribution<float> normal;
  std::vector<float> v(centre.size());
  for (size_t j = 0; j < v.size(); ++j) v[j] = centre[j] + normal(rng) * 0.3f / (1.0f + 0.1f * j);
  return v;
}

// Fills `table` with `vectors` rows (ids first_id, first_id + 1, ...) around 30 centres and
// returns the centres and `queries` queries drawn the same way.
inline ClusteredSet FillClustered(VectorTable& table, size_t vectors, size_t queries,
                                  uint64_t first_id = 500, uint32_t seed = 21) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  ClusteredSet set;
  set.centres.assign(30, std::vector<float>(table.dim()));
  for (auto& c : set.centres) {
    for (size_t j = 0; j < c.size(); ++j) c[j] = normal(rng) * 2.0f / (1.0f + 0.1f * j);
  }
  for (uint64_t i = 0; i < vectors; ++i) {
    table.Upsert(first_id + i, ClusteredVector(rng, set.centres[i % set.centres.size()]));
  }
  for (size_t q = 0; q < queries; ++q) {
    set.queries.push_back(ClusteredVector(rng, set.centres[q % set.centres.size()]));
  }
  return set;
}

}  // namespace adanns::index
