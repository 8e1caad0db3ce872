// What the fused scan is measured against, on the same device in the same run: the
// device-to-device copy bandwidth, and cuBLAS GEMM over the whole row set with a top-k pass over
// the materialised scores.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace adanns::gpu_bench {

// (bytes read + bytes written) / s of cudaMemcpy device-to-device over `bytes`, best of `reps`.
absl::StatusOr<double> CopyBandwidth(uint64_t bytes, int reps);

// Rows resident on the device for the GEMM baseline.
class GemmBaseline {
 public:
  // rows: n x dim floats (kept as fp16 when `half`).
  static absl::StatusOr<std::unique_ptr<GemmBaseline>> Create(const std::vector<float>& rows,
                                                              size_t n, uint32_t dim, bool half);
  virtual ~GemmBaseline() = default;
  // Seconds (median of `reps`) of: scores = queries x rows^T (inner product, fp32 output), then
  // the best k of each query's row of scores. Queries are uploaded once, outside the timing.
  virtual absl::StatusOr<double> Time(const std::vector<float>& queries, size_t batch, uint32_t k,
                                      int reps) = 0;
};

}  // namespace adanns::gpu_bench
