// Bounded selection of the k best (row, distance) pairs, where smaller distance is better.
// Scores where higher is better are negated by the caller before Push.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "index/vector_table.h"

namespace adanns::index {

struct ScoredRow {
  float distance;
  RowId row;
};

class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }

  // Distance a new entry must beat to enter (infinity while fewer than k are held).
  float threshold() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().distance;
  }

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
  // selection, which orders by (key, row), agrees).
  static bool Worse(const ScoredRow& a, const ScoredRow& b) {
    return a.distance > b.distance || (a.distance == b.distance && a.row > b.row);
  }
  // Heap order: the worst entry at the front.
  static bool WorseFirst(const ScoredRow& a, const ScoredRow& b) { return Worse(b, a); }

  size_t k_;
  std::vector<ScoredRow> heap_;
};

}  // namespace adanns::index
