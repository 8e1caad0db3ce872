// Distances as uint32 keys whose integer order is the float order (smaller = better), shared by
// the CUDA selection code and host-side tests. Plain C++ when not compiled by nvcc.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define ADANNS_HOST_DEVICE __host__ __device__
#else
#define ADANNS_HOST_DEVICE
#endif

namespace adanns::index::cuda {

// Marks an empty selection slot; no distance maps to it.
inline constexpr uint32_t kEmptyKey = 0xFFFFFFFFu;
// Every NaN distance (any sign, any payload) ranks here: after +inf, before empty. Without it a
// canonical NaN (0x7FFFFFFF) became the empty key and its row vanished, and a sign-flipped one
// ranked first.
inline constexpr uint32_t kNanKey = 0xFFFFFFFEu;
inline constexpr uint32_t kNoRow = 0xFFFFFFFFu;

ADANNS_HOST_DEVICE inline uint32_t FloatBits(float value) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
#endif
}

ADANNS_HOST_DEVICE inline uint32_t DistanceKey(float distance) {
  const uint32_t bits = FloatBits(distance);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return kNanKey;
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// The distance of a key (kNanKey gives a NaN).
ADANNS_HOST_DEVICE inline float KeyDistance(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float distance;
  std::memcpy(&distance, &bits, sizeof(distance));
  return distance;
#endif
}

// Selection order: by key, ties by row (the CPU's TopK order), so results are deterministic.
ADANNS_HOST_DEVICE inline bool RanksBefore(uint32_t key, uint32_t row, uint32_t other_key,
                                           uint32_t other_row) {
  return key < other_key || (key == other_key && row < other_row);
}

}  // namespace adanns::index::cuda
