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
    } else if (distance < heap_.front().distance) {
      std::pop_heap(heap_.begin(), heap_.end(), WorseFirst);
      heap_.back() = {distance, row};
      std::push_heap(heap_.begin(), heap_.end(), WorseFirst);
    }
  }

  // Best first; ties broken by row so results are deterministic. Leaves the selector empty.
  std::vector<ScoredRow> TakeSorted() {
    std::sort(heap_.begin(), heap_.end(), [](const ScoredRow& a, const ScoredRow& b) {
      return a.distance < b.distance || (a.distance == b.distance && a.row < b.row);
    });
    return std::move(heap_);
  }

 private:
  static bool WorseFirst(const ScoredRow& a, const ScoredRow& b) { return a.distance < b.distance; }

  size_t k_;
  std::vector<ScoredRow> heap_;
};

}  // namespace adanns::index
