// Per-thread visit marks for graph searches, reset in O(1) per search by bumping an epoch.
#pragma once

#include <xmmintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace adanns::index {

class VisitedSet {
 public:
  // Forgets every visit; `nodes` bounds the node numbers of the coming search.
  void Reset(size_t nodes) {
    if (marks_.size() < nodes) marks_.resize(nodes, 0);
    if (++epoch_ == 0) {  // wrapped: clear once every 2^32 searches
      std::fill(marks_.begin(), marks_.end(), 0);
      epoch_ = 1;
    }
  }
  // True the first time `node` is seen since Reset.
  bool Visit(uint32_t node) {
    if (marks_[node] == epoch_) return false;
    marks_[node] = epoch_;
    return true;
  }
  void Prefetch(uint32_t node) const {
    _mm_prefetch(reinterpret_cast<const char*>(&marks_[node]), _MM_HINT_T0);
  }

 private:
  std::vector<uint32_t> marks_;
  uint32_t epoch_ = 0;
};

}  // namespace adanns::index
