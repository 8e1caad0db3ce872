// Rows a build leaves out: the calibration sample a build sets aside, so that the index it
// calibrates has never seen its queries (a stored vector is a node of the graph and a member of
// its IVF list, linked at build time to its nearest neighbours: a search from it walks straight
// into its neighbourhood, which an outside query cannot). The rows are inserted after the
// calibration like any write made during the build.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "index/vector_table.h"

namespace adanns::index {

class HeldOutRows {
 public:
  HeldOutRows() = default;
  explicit HeldOutRows(std::vector<RowId> rows) : rows_(std::move(rows)) {
    std::sort(rows_.begin(), rows_.end());
    rows_.erase(std::unique(rows_.begin(), rows_.end()), rows_.end());
  }

  bool Contains(RowId row) const { return std::binary_search(rows_.begin(), rows_.end(), row); }
  // A live row a build takes in.
  bool Keeps(const VectorTable& table, RowId row) const {
    return table.IsLive(row) && !Contains(row);
  }
  std::span<const RowId> rows() const { return rows_; }
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<RowId> rows_;  // sorted, unique
};

// `count` live rows of `table` drawn uniformly without replacement (seeded).
inline HeldOutRows SampleLiveRows(const VectorTable& table, size_t count, uint64_t seed) {
  std::vector<RowId> live;
  live.reserve(table.size());
  for (size_t r = 0; r < table.row_count(); ++r) {
    if (table.IsLive(static_cast<RowId>(r))) live.push_back(static_cast<RowId>(r));
  }
  count = std::min(count, live.size());
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < count; ++i) std::swap(live[i], live[i + rng() % (live.size() - i)]);
  live.resize(count);
  return HeldOutRows(std::move(live));
}

}  // namespace adanns::index
