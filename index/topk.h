// Bounded selection of the k best (row, distance) pairs, where smaller distance is better.
// Scores where higher is better are negated by the caller before Push.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "index/vector_table.h"

namespace adanns::index {

// The selection order over (distance, tie-break key) everywhere results are ranked: smaller
// distance first, a NaN distance (an overflowed inner product) after every number, equal
// distances and NaNs among themselves by the key. A strict weak order (sort, heaps, nth_element),
// and the GPU's order (index/cuda/distance_key.h).
template <typename Key>
inline bool RanksBefore(float distance, Key key, float other_distance, Key other_key) {
  const bool nan = std::isnan(distance);
  const bool other_nan = std::isnan(other_distance);
  if (nan || other_nan) return other_nan && (!nan || key < other_key);
  return distance < other_distance || (distance == other_distance && key < other_key);
}

struct ScoredRow {
  float distance;
  RowId row;
};

class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  // Distance a new entry must beat to enter (infinity while fewer than k are held). Test it with
  // Admits, not `<=`: the threshold or the distance may be NaN.
  float threshold() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().distance;
  }

  // Whether a distance may enter a selection whose threshold() is `threshold`. NaN distances
  // are admitted (Push ranks them last, as the GPU's kNanKey does) and a NaN threshold admits
  // everything, since any number ranks before it.
  static bool Admits(float distance, float threshold) { return !(distance > threshold); }

  void Push(float distance, RowId row) {
    if (heap_.size() < k_) {
      heap_.push_back({distance, row});
      std::push_heap(heap_.begin(), heap_.end(), WorseFirst);
    } else if (Worse(heap_.front(), {distance, row})) {
      std::pop_heap(heap_.begin(), heap_.end(), WorseFirst);
      heap_.back() = {distance, row};
      std::push_heap(heap_.begin(), heap_.end(), WorseFirst);
    }
  }

  // Best first. Leaves the selector empty.
  std::vector<ScoredRow> TakeSorted() {
    std::sort(heap_.begin(), heap_.end(),
              [](const ScoredRow& a, const ScoredRow& b) { return Worse(b, a); });
    return std::move(heap_);
  }

 private:
  // Order of selection: by distance, equal distances by row (the lower row is better), so which
  // of several tied rows is kept does not depend on the order they were pushed in (and the GPU's
  // selection, which orders by (key, row), agrees). A NaN distance (an overflowed inner product)
  // ranks after every number, NaNs among themselves by row: a strict weak order, as the heap and
  // sort need, and the GPU's order.
  static bool Worse(const ScoredRow& a, const ScoredRow& b) {
    return RanksBefore(b.distance, b.row, a.distance, a.row);
  }
  // Heap order: the worst entry at the front.
  static bool WorseFirst(const ScoredRow& a, const ScoredRow& b) { return Worse(b, a); }

  size_t k_;
  std::vector<ScoredRow> heap_;
};

}  // namespace adanns::index
