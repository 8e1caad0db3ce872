// Multiply-adds the scoring kernels actually perform, counted per thread where they run
// (StageScorer blocks, the graph's distance calls, ADC table builds and code scans), so tests can
// hold every search's reported cost against the work really done. One thread-local add per call.
#pragma once

#include <cstdint>

namespace adanns::index {

inline thread_local uint64_t tls_counted_multiply_adds = 0;

inline void CountMultiplyAdds(uint64_t n) { tls_counted_multiply_adds += n; }
inline uint64_t CountedMultiplyAdds() { return tls_counted_multiply_adds; }

}  // namespace adanns::index
