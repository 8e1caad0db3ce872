// Block-wide top-k selection in shared memory for the CUDA scorer kernels. Candidates enter a
// buffer when they beat the query's threshold (Offer); once the buffer fills, a radix select
// keeps the k best and raises the threshold to the k-th key (Compact). Keys are distances mapped
// to uint32 so that integer order is float order (smaller = better).
#pragma once

#include <cstdint>
#include <cstring>

namespace adanns::index::cuda {

inline constexpr uint32_t kEmptyKey = 0xFFFFFFFFu;
inline constexpr uint32_t kNoRow = 0xFFFFFFFFu;
// Words of shared scratch Compact needs: a 256-bin histogram and four counters.
inline constexpr uint32_t kSelectScratchWords = 260;

__host__ __device__ inline uint32_t DistanceKey(float distance) {
  uint32_t bits;
#ifdef __CUDA_ARCH__
  bits = __float_as_uint(distance);
#else
  std::memcpy(&bits, &distance, sizeof(bits));
#endif
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

__host__ __device__ inline float KeyDistance(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float distance;
  std::memcpy(&distance, &bits, sizeof(distance));
  return distance;
#endif
}

#ifdef __CUDACC__

// One query's selection buffer in shared memory.
struct Selection {
  uint32_t* keys;       // capacity entries
  uint32_t* rows;       // capacity entries
  uint32_t* count;      // entries held
  uint32_t* threshold;  // a key must be below it to enter
};

__device__ inline void Offer(const Selection& s, uint32_t key, uint32_t row) {
  if (key < *s.threshold) {
    const uint32_t at = atomicAdd(s.count, 1u);
    s.keys[at] = key;
    s.rows[at] = row;
  }
}

// Keeps the k best entries (ties at the k-th key broken arbitrarily) and sets the threshold to the
// k-th key. Every thread of the block must call it with the same arguments, after a barrier.
// tmp_keys/tmp_rows hold k entries; scratch holds kSelectScratchWords words.
__device__ inline void Compact(const Selection& s, uint32_t k, uint32_t* tmp_keys,
                               uint32_t* tmp_rows, uint32_t* scratch) {
  const uint32_t n = *s.count;
  if (n <= k) return;
  uint32_t* histogram = scratch;
  uint32_t* state = scratch + 256;  // prefix, still wanted, below-k-th count, equal count
  const uint32_t tid = threadIdx.x;
  const uint32_t threads = blockDim.x;
  if (tid == 0) {
    state[0] = 0;
    state[1] = k;
  }
  uint32_t mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (uint32_t i = tid; i < 256; i += threads) histogram[i] = 0;
    __syncthreads();
    const uint32_t prefix = state[0];
    for (uint32_t i = tid; i < n; i += threads) {
      const uint32_t key = s.keys[i];
      if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255u], 1u);
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
      state[2] = 0;
      state[3] = 0;
    }
    mask |= 0xFFu << shift;
    __syncthreads();
  }
  const uint32_t kth = state[0];
  const uint32_t equal_taken = state[1];
  for (uint32_t i = tid; i < n; i += threads) {
    const uint32_t key = s.keys[i];
    if (key < kth) {
      const uint32_t at = atomicAdd(&state[2], 1u);
      tmp_keys[at] = key;
      tmp_rows[at] = s.rows[i];
    } else if (key == kth) {
      const uint32_t nth = atomicAdd(&state[3], 1u);
      if (nth < equal_taken) {
        tmp_keys[k - equal_taken + nth] = key;
        tmp_rows[k - equal_taken + nth] = s.rows[i];
      }
    }
  }
  __syncthreads();
  for (uint32_t i = tid; i < k; i += threads) {
    s.keys[i] = tmp_keys[i];
    s.rows[i] = tmp_rows[i];
  }
  if (tid == 0) {
    *s.count = k;
    *s.threshold = kth;
  }
  __syncthreads();
}

// Sorts the held entries ascending (bitonic, padded with empty keys to a power of two; the buffer
// must hold that many). Block-wide, after a barrier. Returns the count.
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
          if ((s.keys[i] > s.keys[j]) == ascending) {
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
