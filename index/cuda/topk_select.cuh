// Block-wide top-k selection in shared memory for the CUDA scorer kernels. Candidates enter a
// buffer when they beat the query's threshold (Offer); once the buffer fills, a radix select
// keeps the k best and raises the threshold to the k-th entry (Compact). Keys: distance_key.h.
#pragma once

#include <cstdint>

#include "index/cuda/distance_key.h"

namespace adanns::index::cuda {

// Words of shared scratch Compact needs: a 256-bin histogram and six counters.
inline constexpr uint32_t kSelectScratchWords = 262;

#ifdef __CUDACC__

// One query's selection buffer in shared memory. Entries are ordered by (key, row): equal
// distances keep the lower rows, as the CPU does, whatever order the threads offered them in.
struct Selection {
  uint32_t* keys;       // capacity entries
  uint32_t* rows;       // capacity entries
  uint32_t* count;      // entries held
  uint32_t* threshold;  // an entry must rank before (threshold, threshold_row) to enter
  uint32_t* threshold_row;
};

__device__ inline void Offer(const Selection& s, uint32_t key, uint32_t row) {
  if (RanksBefore(key, row, *s.threshold, *s.threshold_row)) {
    const uint32_t at = atomicAdd(s.count, 1u);
    s.keys[at] = key;
    s.rows[at] = row;
  }
}

// Radix select over values[0, n) (only entries whose keys[i] == only_key when `keys` is given):
// on entry state[1] is the rank wanted (1-based); on exit state[0] is the value at that rank,
// state[1] how many entries equal to it are still wanted, state[4] how many equal it. Block-wide.
__device__ inline void RadixSelect(const uint32_t* values, const uint32_t* keys, uint32_t only_key,
                                   uint32_t n, uint32_t* histogram, uint32_t* state) {
  const uint32_t tid = threadIdx.x;
  if (tid == 0) state[0] = 0;
  uint32_t mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (uint32_t i = tid; i < 256; i += blockDim.x) histogram[i] = 0;
    __syncthreads();
    const uint32_t prefix = state[0];
    for (uint32_t i = tid; i < n; i += blockDim.x) {
      const uint32_t value = values[i];
      if ((value & mask) == prefix && (keys == nullptr || keys[i] == only_key)) {
        atomicAdd(&histogram[(value >> shift) & 255u], 1u);
      }
    }
    __syncthreads();
    if (tid == 0) {
      uint32_t wanted = state[1];
      uint32_t bin = 0;
      for (; bin < 255; ++bin) {
        if (histogram[bin] >= wanted) break;
        wanted -= histogram[bin];
      }
      state[0] = prefix | (bin << shift);
      state[1] = wanted;
      state[4] = histogram[bin];
    }
    mask |= 0xFFu << shift;
    __syncthreads();
  }
}

// Keeps the k best entries by (key, row) and sets the threshold to the k-th. Every thread of the
// block must call it with the same arguments, after a barrier. tmp_keys/tmp_rows hold k entries;
// scratch holds kSelectScratchWords words.
__device__ inline void Compact(const Selection& s, uint32_t k, uint32_t* tmp_keys,
                               uint32_t* tmp_rows, uint32_t* scratch) {
  const uint32_t n = *s.count;
  if (n <= k) return;
  uint32_t* histogram = scratch;
  // kth value, still wanted, below-k-th count, equal count, equal in the last pass.
  uint32_t* state = scratch + 256;
  const uint32_t tid = threadIdx.x;
  if (tid == 0) state[1] = k;
  RadixSelect(s.keys, nullptr, 0, n, histogram, state);
  const uint32_t kth_key = state[0];
  uint32_t kth_row = kNoRow;  // every entry at the k-th key is kept unless rows must decide
  if (state[4] > state[1]) {
    __syncthreads();  // every thread has read the key pass's state
    RadixSelect(s.rows, s.keys, kth_key, n, histogram, state);
    kth_row = state[0];
  }
  const uint32_t equal_taken = state[1];
  __syncthreads();
  if (tid == 0) {
    state[2] = 0;
    state[3] = 0;
  }
  __syncthreads();
  for (uint32_t i = tid; i < n; i += blockDim.x) {
    const uint32_t key = s.keys[i];
    const uint32_t row = s.rows[i];
    if (RanksBefore(key, row, kth_key, kth_row)) {
      const uint32_t at = atomicAdd(&state[2], 1u);
      tmp_keys[at] = key;
      tmp_rows[at] = row;
    } else if (key == kth_key && row == kth_row) {
      const uint32_t nth = atomicAdd(&state[3], 1u);
      if (nth < equal_taken) {
        tmp_keys[k - equal_taken + nth] = key;
        tmp_rows[k - equal_taken + nth] = row;
      }
    }
  }
  __syncthreads();
  for (uint32_t i = tid; i < k; i += blockDim.x) {
    s.keys[i] = tmp_keys[i];
    s.rows[i] = tmp_rows[i];
  }
  if (tid == 0) {
    *s.count = k;
    *s.threshold = kth_key;
    *s.threshold_row = kth_row;
  }
  __syncthreads();
}

// Sorts the held entries by (key, row) (bitonic, padded with empty entries to a power of two; the
// buffer must hold that many). Block-wide, after a barrier. Returns the count.
__device__ inline uint32_t SortSelection(const Selection& s) {
  const uint32_t n = *s.count;
  uint32_t padded = 1;
  while (padded < n) padded <<= 1;
  for (uint32_t i = n + threadIdx.x; i < padded; i += blockDim.x) {
    s.keys[i] = kEmptyKey;
    s.rows[i] = kNoRow;
  }
  __syncthreads();
  for (uint32_t size = 2; size <= padded; size <<= 1) {
    for (uint32_t stride = size / 2; stride > 0; stride >>= 1) {
      for (uint32_t i = threadIdx.x; i < padded; i += blockDim.x) {
        const uint32_t j = i ^ stride;
        if (j > i) {
          const bool ascending = (i & size) == 0;
          if (RanksBefore(s.keys[j], s.rows[j], s.keys[i], s.rows[i]) == ascending) {
            const uint32_t key = s.keys[i];
            s.keys[i] = s.keys[j];
            s.keys[j] = key;
            const uint32_t row = s.rows[i];
            s.rows[i] = s.rows[j];
            s.rows[j] = row;
          }
        }
      }
      __syncthreads();
    }
  }
  return n;
}

#endif  // __CUDACC__

}  // namespace adanns::index::cuda
