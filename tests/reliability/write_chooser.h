// The writes a reliability workload sends: mostly upserts of whole blocks of ids (new blocks, or
// new versions of old ones), some deletes of a few ids. Each writer owns its own id range, so the
// writes of different writers never overlap (what AcknowledgedWrites needs).
#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "tests/common/acknowledged_writes.h"

namespace adanns::testing {

// What the writers have written so far; kept across restarts, so each run continues the last.
struct WorkloadState {
  explicit WorkloadState(int writers) : next_block(writers, 0) {}
  std::vector<uint64_t> next_block;  // per writer; only that writer's thread touches it
  std::atomic<uint32_t> next_version{1};
};

class WriteChooser {
 public:
  // `max_blocks` > 0 bounds the blocks of this writer (then only rewrites), for soaks.
  WriteChooser(WorkloadState* state, int writer, uint64_t block_size, uint64_t max_blocks,
               uint64_t seed)
      : state_(state),
        next_block_(state->next_block[writer]),
        first_id_((static_cast<uint64_t>(writer) + 1) << 40),
        block_size_(block_size),
        max_blocks_(max_blocks),
        rng_(seed) {}

  // One write in seven is a delete, once there is something to delete.
  Write Next() { return next_block_ > 0 && rng_() % 7 == 0 ? Delete() : Upsert(); }

  // A new block while below the bound (and 70% of the time), else a new version of an old one.
  Write Upsert() {
    const bool rewrite = next_block_ > 0 && (full() || rng_() % 10 < 3);
    const uint64_t block = rewrite ? rng_() % next_block_ : next_block_++;
    Write write{.ids = {}, .version = state_->next_version++};
    for (uint64_t i = 0; i < block_size_; ++i) write.ids.push_back(FirstId(block) + i);
    return write;
  }

  // One to four ids of a block written before (some may be deleted already).
  Write Delete() {
    const uint64_t first = FirstId(rng_() % next_block_);
    std::set<uint64_t> ids;
    const size_t count = 1 + rng_() % 4;
    while (ids.size() < count) ids.insert(first + rng_() % block_size_);
    return {.ids = {ids.begin(), ids.end()}, .version = std::nullopt};
  }

  bool full() const { return max_blocks_ > 0 && next_block_ >= max_blocks_; }

 private:
  uint64_t FirstId(uint64_t block) const { return first_id_ + block * block_size_; }

  WorkloadState* state_;
  uint64_t& next_block_;
  const uint64_t first_id_;
  const uint64_t block_size_;
  const uint64_t max_blocks_;
  std::mt19937_64 rng_;
};

}  // namespace adanns::testing
