// Launchers of the CUDA scoring kernels (device pointers in, device pointers out). Included only by
// .cu files; the C++ side sees GpuBatchScorer.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "base/metric.h"

namespace adanns::index::cuda {

// Rows resident on the device: row r's first `dims` values at rows + r * stride (stride a
// multiple of 4 elements), live[r] != 0 for live rows.
template <typename T>
struct DeviceRows {
  const T* rows = nullptr;
  const uint8_t* live = nullptr;
  uint32_t stride = 0;
  uint32_t count = 0;  // rows allocated
};

// Prepared queries: query q's `dims` values at queries + q * dims (normalised for cosine).
struct DeviceQueries {
  const float* queries = nullptr;
  uint32_t count = 0;
  uint32_t dims = 0;
};

// Results: query q's best entries at distances/rows + q * k, `counts[q]` of them, best first.
struct DeviceTopK {
  float* distances = nullptr;
  uint32_t* rows = nullptr;
  uint32_t* counts = nullptr;
  uint32_t k = 0;
};

// Scratch words the fused scan needs for its per-split partial results.
size_t ScanScratchWords(uint32_t queries, uint32_t splits, uint32_t k);
// Splits of the row range the fused scan uses for this shape on `sm_count` multiprocessors.
uint32_t ScanSplits(uint32_t queries, uint32_t rows, uint32_t sm_count);
// Largest k the kernels take with `dims`-float queries in `shared_bytes` of shared memory.
uint32_t MaxSelectK(uint32_t dims, size_t shared_bytes);

// Fused exact scan of rows [0, row_limit) + top-k: each block scores a slice of rows for a group of
// queries (never materialising the score matrix) and keeps its best k; a merge pass combines the
// slices. `scratch` holds ScanScratchWords words.
template <typename T>
cudaError_t LaunchScan(const DeviceRows<T>& rows, uint32_t row_limit, const DeviceQueries& queries,
                       Metric metric, uint32_t splits, uint32_t* scratch, size_t shared_limit,
                       const DeviceTopK& out, cudaStream_t stream);

// Scores query q's candidate rows candidate_rows[offsets[q] .. offsets[q + 1]) and keeps the best
// k (dead or out-of-range rows skipped).
template <typename T>
cudaError_t LaunchCandidates(const DeviceRows<T>& rows, const DeviceQueries& queries,
                             const uint64_t* offsets, const uint32_t* candidate_rows, Metric metric,
                             size_t shared_limit, const DeviceTopK& out, cudaStream_t stream);

// Best k of each row of a materialised score matrix (queries x columns, higher score better):
// the top-k half of the GEMM + top-k baseline.
cudaError_t LaunchTopKOfScores(const float* scores, uint32_t queries, uint32_t columns,
                               size_t shared_limit, const DeviceTopK& out, cudaStream_t stream);

// rows[row_ids[i]] = staged[i] (stride values each) and live = 1; or live = 0 when staged is null.
template <typename T>
cudaError_t LaunchScatterRows(T* rows, uint8_t* live, uint32_t stride, const uint32_t* row_ids,
                              const T* staged, uint32_t n, cudaStream_t stream);

}  // namespace adanns::index::cuda
