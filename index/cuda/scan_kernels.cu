// The CUDA scoring kernels: a warp scores one row against a group of queries held in shared
// memory (vectorised, coalesced reads of the row prefix), and every query keeps its best k in a
// shared-memory selection buffer (topk_select.cuh).
#include <algorithm>
#include <mutex>
#include <vector>

#include "index/cuda/scan_kernels.cuh"
#include "index/cuda/topk_select.cuh"

namespace adanns::index::cuda {
namespace {

constexpr uint32_t kThreads = 256;
constexpr uint32_t kWarps = kThreads / 32;
constexpr uint32_t kRowsPerWarp = 16;
constexpr uint32_t kTileRows = kWarps * kRowsPerWarp;  // rows offered per query between compactions
constexpr unsigned kFullMask = 0xFFFFFFFFu;
// The hardware's limit on gridDim.y: larger query batches are launched in slices of groups.
constexpr uint32_t kMaxGridY = 65535;

uint32_t RoundUp4(uint32_t n) { return (n + 3) / 4 * 4; }

// Shared memory of a scoring kernel with `group` queries.
size_t ScoringSharedBytes(uint32_t group, uint32_t dims, uint32_t k) {
  const size_t capacity = 2 * size_t{k} + kTileRows;
  return 4 * (group * size_t{RoundUp4(dims)} + group * capacity * 2 + 2 * size_t{k} + 3 * group +
              kSelectScratchWords);
}

// Shared memory of a merge kernel (one query, kThreads candidates offered per round).
size_t MergeSharedBytes(uint32_t k) {
  const size_t capacity = 2 * size_t{k} + kThreads;
  return 4 * (capacity * 2 + 2 * size_t{k} + 3 + kSelectScratchWords);
}

__device__ inline float4 Load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ inline float4 Load4(const __half* p) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
  return make_float4(a.x, a.y, b.x, b.y);
}
__device__ inline float LoadOne(const float* p) { return *p; }
__device__ inline float LoadOne(const __half* p) { return __half2float(*p); }

template <Metric M>
__device__ inline void Accumulate(float q, float x, float& acc) {
  if constexpr (M == Metric::kL2) {
    const float diff = q - x;
    acc = fmaf(diff, diff, acc);
  } else {
    acc = fmaf(q, x, acc);
  }
}

template <Metric M>
__device__ inline float FinishDistance(float acc, float norm_sqr) {
  if constexpr (M == Metric::kL2) return acc;
  if constexpr (M == Metric::kInnerProduct) return -acc;
  return norm_sqr > 0 ? -acc / sqrtf(norm_sqr) : 0.0f;
}

// One warp scores row `x` against G queries (shared, `query_stride` floats apart); every lane ends
// with the full sums.
template <typename T, Metric M, int G>
__device__ inline void ScoreRow(const T* x, const float* queries, uint32_t query_stride,
                                uint32_t dims, uint32_t lane, float (&acc)[G], float& norm_sqr) {
#pragma unroll
  for (int g = 0; g < G; ++g) acc[g] = 0;
  norm_sqr = 0;
  const uint32_t vector_dims = dims / 4 * 4;
  for (uint32_t j = lane * 4; j < vector_dims; j += 128) {
    const float4 xv = Load4(x + j);
    if constexpr (M == Metric::kCosine) {
      norm_sqr = fmaf(xv.x, xv.x, norm_sqr);
      norm_sqr = fmaf(xv.y, xv.y, norm_sqr);
      norm_sqr = fmaf(xv.z, xv.z, norm_sqr);
      norm_sqr = fmaf(xv.w, xv.w, norm_sqr);
    }
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float4 qv = *reinterpret_cast<const float4*>(queries + g * query_stride + j);
      Accumulate<M>(qv.x, xv.x, acc[g]);
      Accumulate<M>(qv.y, xv.y, acc[g]);
      Accumulate<M>(qv.z, xv.z, acc[g]);
      Accumulate<M>(qv.w, xv.w, acc[g]);
    }
  }
  for (uint32_t j = vector_dims + lane; j < dims; j += 32) {
    const float xv = LoadOne(x + j);
    if constexpr (M == Metric::kCosine) norm_sqr = fmaf(xv, xv, norm_sqr);
#pragma unroll
    for (int g = 0; g < G; ++g) Accumulate<M>(queries[g * query_stride + j], xv, acc[g]);
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
#pragma unroll
    for (int g = 0; g < G; ++g) acc[g] += __shfl_xor_sync(kFullMask, acc[g], offset);
    if constexpr (M == Metric::kCosine) norm_sqr += __shfl_xor_sync(kFullMask, norm_sqr, offset);
  }
}

// The shared-memory layout every scoring kernel uses for its G queries.
struct ScoringShared {
  float* queries;
  uint32_t query_stride;
  uint32_t capacity;
  uint32_t* keys;  // G * capacity
  uint32_t* rows;  // G * capacity
  uint32_t* tmp_keys;
  uint32_t* tmp_rows;
  uint32_t* counts;
  uint32_t* thresholds;
  uint32_t* threshold_rows;
  uint32_t* scratch;

  __device__ Selection For(uint32_t g) const {
    return {keys + g * capacity, rows + g * capacity, counts + g, thresholds + g,
            threshold_rows + g};
  }
};

__device__ inline ScoringShared CarveShared(unsigned char* base, uint32_t group, uint32_t dims,
                                            uint32_t k, uint32_t offered_per_round) {
  ScoringShared s;
  s.query_stride = (dims + 3) / 4 * 4;
  s.capacity = 2 * k + offered_per_round;
  s.queries = reinterpret_cast<float*>(base);
  uint32_t* words = reinterpret_cast<uint32_t*>(s.queries + group * s.query_stride);
  s.keys = words;
  s.rows = s.keys + group * s.capacity;
  s.tmp_keys = s.rows + group * s.capacity;
  s.tmp_rows = s.tmp_keys + k;
  s.counts = s.tmp_rows + k;
  s.thresholds = s.counts + group;
  s.threshold_rows = s.thresholds + group;
  s.scratch = s.threshold_rows + group;
  return s;
}

// Loads queries [first, first + G) (zeros past `count`) and empties the selections.
__device__ inline void InitGroup(const ScoringShared& s, const DeviceQueries& q, uint32_t first,
                                 uint32_t group) {
  for (uint32_t i = threadIdx.x; i < group * s.query_stride; i += blockDim.x) {
    const uint32_t g = i / s.query_stride;
    const uint32_t j = i % s.query_stride;
    const uint32_t query = first + g;
    s.queries[i] = (query < q.count && j < q.dims) ? q.queries[size_t{query} * q.dims + j] : 0.0f;
  }
  for (uint32_t g = threadIdx.x; g < group; g += blockDim.x) {
    s.counts[g] = 0;
    s.thresholds[g] = kEmptyKey;
    s.threshold_rows[g] = kNoRow;
  }
  __syncthreads();
}

// After a round of offers: compacts every selection that could overflow in the next round.
__device__ inline void CompactFull(const ScoringShared& s, uint32_t group, uint32_t k,
                                   uint32_t offered_per_round) {
  __syncthreads();
  for (uint32_t g = 0; g < group; ++g) {
    if (s.counts[g] + offered_per_round > s.capacity) {
      Compact(s.For(g), k, s.tmp_keys, s.tmp_rows, s.scratch);
    }
  }
  __syncthreads();
}

// grid (splits, query groups): block (x, y) scans its slice of rows for the queries of group
// first_group + y, [G * (first_group + y), + G), and writes each query's best k of the slice to
// partial keys/rows [query][split][k].
template <typename T, Metric M, int G>
__global__ void __launch_bounds__(kThreads)
    ScanKernel(DeviceRows<T> rows, uint32_t row_limit, DeviceQueries queries, uint32_t k,
               uint32_t first_group, uint32_t* partial_keys, uint32_t* partial_rows) {
  extern __shared__ __align__(16) unsigned char shared[];
  const ScoringShared s = CarveShared(shared, G, queries.dims, k, kTileRows);
  const uint32_t first_query = (first_group + blockIdx.y) * G;
  InitGroup(s, queries, first_query, G);
  const uint32_t splits = gridDim.x;
  const uint32_t per_split = (row_limit + splits - 1) / splits;
  const uint32_t begin = blockIdx.x * per_split;
  const uint32_t end = min(row_limit, begin + per_split);
  const uint32_t warp = threadIdx.x / 32;
  const uint32_t lane = threadIdx.x % 32;

  float acc[G];
  float norm_sqr;
  for (uint32_t tile = begin; tile < end; tile += kTileRows) {
    for (uint32_t r = 0; r < kRowsPerWarp; ++r) {
      const uint32_t row = tile + r * kWarps + warp;
      if (row >= end) break;
      ScoreRow<T, M, G>(rows.rows + size_t{row} * rows.stride, s.queries, s.query_stride,
                        queries.dims, lane, acc, norm_sqr);
      if (lane < G && first_query + lane < queries.count && rows.live[row]) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          if (g == static_cast<int>(lane)) {
            Offer(s.For(g), DistanceKey(FinishDistance<M>(acc[g], norm_sqr)), row);
          }
        }
      }
    }
    CompactFull(s, G, k, kTileRows);
  }
  for (uint32_t g = 0; g < G; ++g) Compact(s.For(g), k, s.tmp_keys, s.tmp_rows, s.scratch);
  for (uint32_t g = 0; g < G; ++g) {
    const uint32_t query = first_query + g;
    if (query >= queries.count) break;
    const size_t base = (size_t{query} * splits + blockIdx.x) * k;
    const uint32_t held = s.counts[g];
    for (uint32_t i = threadIdx.x; i < k; i += blockDim.x) {
      partial_keys[base + i] = i < held ? s.keys[g * s.capacity + i] : kEmptyKey;
      partial_rows[base + i] = i < held ? s.rows[g * s.capacity + i] : kNoRow;
    }
  }
}

// Sorts a one-query selection and writes it out.
__device__ inline void WriteSorted(const ScoringShared& s, uint32_t query, uint32_t k,
                                   const DeviceTopK& out) {
  Compact(s.For(0), k, s.tmp_keys, s.tmp_rows, s.scratch);
  const uint32_t held = SortSelection(s.For(0));
  for (uint32_t i = threadIdx.x; i < held; i += blockDim.x) {
    out.distances[size_t{query} * k + i] = KeyDistance(s.keys[i]);
    out.rows[size_t{query} * k + i] = s.rows[i];
  }
  if (threadIdx.x == 0) out.counts[query] = held;
}

// One block per query: the best k of `total` candidate (key, row) pairs that `source` yields.
template <typename Source>
__device__ inline void SelectFromSource(const Source& source, uint32_t total, uint32_t k,
                                        const DeviceTopK& out) {
  extern __shared__ __align__(16) unsigned char shared[];
  const ScoringShared s = CarveShared(shared, 1, 0, k, kThreads);  // no query values
  if (threadIdx.x == 0) {
    s.counts[0] = 0;
    s.thresholds[0] = kEmptyKey;
    s.threshold_rows[0] = kNoRow;
  }
  __syncthreads();
  for (uint32_t round = 0; round < total; round += blockDim.x) {
    const uint32_t i = round + threadIdx.x;
    if (i < total) {
      uint32_t key, row;
      source(i, key, row);
      if (key != kEmptyKey) Offer(s.For(0), key, row);
    }
    CompactFull(s, 1, k, kThreads);
  }
  WriteSorted(s, blockIdx.x, k, out);
}

struct PartialSource {
  const uint32_t* keys;
  const uint32_t* rows;
  __device__ void operator()(uint32_t i, uint32_t& key, uint32_t& row) const {
    key = keys[i];
    row = rows[i];
  }
};

__global__ void __launch_bounds__(kThreads)
    MergeKernel(const uint32_t* partial_keys, const uint32_t* partial_rows, uint32_t splits,
                uint32_t k, DeviceTopK out) {
  const size_t base = size_t{blockIdx.x} * splits * k;
  SelectFromSource(PartialSource{partial_keys + base, partial_rows + base}, splits * k, k, out);
}

struct ScoreRowSource {
  const float* scores;
  __device__ void operator()(uint32_t i, uint32_t& key, uint32_t& row) const {
    key = DistanceKey(-scores[i]);
    row = i;
  }
};

__global__ void __launch_bounds__(kThreads)
    TopKOfScoresKernel(const float* scores, uint32_t columns, uint32_t k, DeviceTopK out) {
  SelectFromSource(ScoreRowSource{scores + size_t{blockIdx.x} * columns}, columns, k, out);
}

// One block per query: scores its candidate rows (a warp per row) and keeps the best k.
template <typename T, Metric M>
__global__ void __launch_bounds__(kThreads)
    CandidateKernel(DeviceRows<T> rows, DeviceQueries queries, const uint64_t* offsets,
                    const uint32_t* candidate_rows, uint32_t k, DeviceTopK out) {
  extern __shared__ __align__(16) unsigned char shared[];
  const ScoringShared s = CarveShared(shared, 1, queries.dims, k, kTileRows);
  const uint32_t query = blockIdx.x;
  InitGroup(s, queries, query, 1);
  const uint64_t begin = offsets[query];
  const uint64_t end = offsets[query + 1];
  const uint32_t warp = threadIdx.x / 32;
  const uint32_t lane = threadIdx.x % 32;
  float acc[1];
  float norm_sqr;
  for (uint64_t tile = begin; tile < end; tile += kTileRows) {
    for (uint32_t r = 0; r < kRowsPerWarp; ++r) {
      const uint64_t at = tile + r * kWarps + warp;
      if (at >= end) break;
      const uint32_t row = candidate_rows[at];
      if (row >= rows.count || !rows.live[row]) continue;
      ScoreRow<T, M, 1>(rows.rows + size_t{row} * rows.stride, s.queries, s.query_stride,
                        queries.dims, lane, acc, norm_sqr);
      if (lane == 0) Offer(s.For(0), DistanceKey(FinishDistance<M>(acc[0], norm_sqr)), row);
    }
    CompactFull(s, 1, k, kTileRows);
  }
  WriteSorted(s, query, k, out);
}

template <typename T>
__global__ void ScatterRowsKernel(T* rows, uint8_t* live, uint32_t stride, const uint32_t* row_ids,
                                  const T* staged, uint32_t n) {
  const uint32_t i = blockIdx.x;
  if (i >= n) return;
  const uint32_t row = row_ids[i];
  if (staged != nullptr) {
    for (uint32_t j = threadIdx.x; j < stride; j += blockDim.x) {
      rows[size_t{row} * stride + j] = staged[size_t{i} * stride + j];
    }
  }
  if (threadIdx.x == 0) live[row] = staged != nullptr ? 1 : 0;
}

// Raises a kernel's dynamic shared memory limit to the device's opt-in maximum, once per process.
// The attribute is process-wide: setting it per launch to that launch's size let two collections
// searching at once launch under the other's smaller limit (cudaErrorInvalidValue).
cudaError_t RaiseSharedLimitOnce(const void* kernel, size_t device_limit) {
  static std::mutex mutex;
  static std::vector<const void*> raised;
  std::lock_guard lock(mutex);
  if (std::find(raised.begin(), raised.end(), kernel) != raised.end()) return cudaSuccess;
  cudaFuncAttributes attributes{};
  if (cudaError_t error = cudaFuncGetAttributes(&attributes, kernel); error != cudaSuccess) {
    return error;
  }
  const size_t dynamic_limit = device_limit - std::min(device_limit, attributes.sharedSizeBytes);
  if (cudaError_t error = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(dynamic_limit));
      error != cudaSuccess) {
    return error;
  }
  raised.push_back(kernel);
  return cudaSuccess;
}

template <typename Kernel>
cudaError_t PrepareShared(Kernel kernel, size_t bytes, size_t limit) {
  if (bytes > limit) return cudaErrorInvalidConfiguration;
  return RaiseSharedLimitOnce(reinterpret_cast<const void*>(kernel), limit);
}

template <typename T, Metric M, int G>
cudaError_t LaunchScanGroup(const DeviceRows<T>& rows, uint32_t row_limit,
                            const DeviceQueries& queries, uint32_t splits, uint32_t* scratch,
                            size_t shared_limit, const DeviceTopK& out, cudaStream_t stream) {
  const size_t bytes = ScoringSharedBytes(G, queries.dims, out.k);
  auto kernel = ScanKernel<T, M, G>;
  if (cudaError_t error = PrepareShared(kernel, bytes, shared_limit); error != cudaSuccess) {
    return error;
  }
  uint32_t* partial_keys = scratch;
  uint32_t* partial_rows = scratch + size_t{queries.count} * splits * out.k;
  const uint32_t groups = (queries.count + G - 1) / G;
  for (uint32_t first_group = 0; first_group < groups; first_group += kMaxGridY) {
    const dim3 grid(splits, std::min(kMaxGridY, groups - first_group));
    kernel<<<grid, kThreads, bytes, stream>>>(rows, row_limit, queries, out.k, first_group,
                                              partial_keys, partial_rows);
  }
  const size_t merge_bytes = MergeSharedBytes(out.k);
  if (cudaError_t error = PrepareShared(MergeKernel, merge_bytes, shared_limit);
      error != cudaSuccess) {
    return error;
  }
  MergeKernel<<<queries.count, kThreads, merge_bytes, stream>>>(partial_keys, partial_rows, splits,
                                                                out.k, out);
  return cudaGetLastError();
}

template <typename T, Metric M>
cudaError_t LaunchScanMetric(const DeviceRows<T>& rows, uint32_t row_limit,
                             const DeviceQueries& queries, uint32_t splits, uint32_t* scratch,
                             size_t shared_limit, const DeviceTopK& out, cudaStream_t stream) {
  // The widest query group whose selections fit in shared memory: each row read serves G queries.
  const auto fits = [&](uint32_t group) {
    return ScoringSharedBytes(group, queries.dims, out.k) <= shared_limit;
  };
  if (queries.count >= 8 && fits(8)) {
    return LaunchScanGroup<T, M, 8>(rows, row_limit, queries, splits, scratch, shared_limit, out,
                                    stream);
  }
  if (queries.count >= 4 && fits(4)) {
    return LaunchScanGroup<T, M, 4>(rows, row_limit, queries, splits, scratch, shared_limit, out,
                                    stream);
  }
  if (queries.count >= 2 && fits(2)) {
    return LaunchScanGroup<T, M, 2>(rows, row_limit, queries, splits, scratch, shared_limit, out,
                                    stream);
  }
  return LaunchScanGroup<T, M, 1>(rows, row_limit, queries, splits, scratch, shared_limit, out,
                                  stream);
}

template <typename T, Metric M>
cudaError_t LaunchCandidatesMetric(const DeviceRows<T>& rows, const DeviceQueries& queries,
                                   const uint64_t* offsets, const uint32_t* candidate_rows,
                                   size_t shared_limit, const DeviceTopK& out,
                                   cudaStream_t stream) {
  const size_t bytes = ScoringSharedBytes(1, queries.dims, out.k);
  auto kernel = CandidateKernel<T, M>;
  if (cudaError_t error = PrepareShared(kernel, bytes, shared_limit); error != cudaSuccess) {
    return error;
  }
  kernel<<<queries.count, kThreads, bytes, stream>>>(rows, queries, offsets, candidate_rows, out.k,
                                                     out);
  return cudaGetLastError();
}

}  // namespace

size_t ScanScratchWords(uint32_t queries, uint32_t splits, uint32_t k) {
  return 2 * size_t{queries} * splits * k;
}

uint32_t ScanSplits(uint32_t queries, uint32_t rows, uint32_t sm_count) {
  // About four blocks per multiprocessor in all, and no slice shorter than 2048 rows.
  const uint32_t groups = (queries + 7) / 8;
  const uint32_t wanted = std::max<uint32_t>(1, 4 * sm_count / std::max<uint32_t>(groups, 1));
  const uint32_t most = std::max<uint32_t>(1, (rows + 2047) / 2048);
  return std::min(wanted, most);
}

uint32_t MaxSelectK(uint32_t dims, size_t shared_bytes) {
  uint32_t k = 1;
  while (ScoringSharedBytes(1, dims, 2 * k) <= shared_bytes &&
         MergeSharedBytes(2 * k) <= shared_bytes && 2 * k <= 4096) {
    k *= 2;
  }
  return k;
}

template <typename T>
cudaError_t LaunchScan(const DeviceRows<T>& rows, uint32_t row_limit, const DeviceQueries& queries,
                       Metric metric, uint32_t splits, uint32_t* scratch, size_t shared_limit,
                       const DeviceTopK& out, cudaStream_t stream) {
  switch (metric) {
    case Metric::kL2:
      return LaunchScanMetric<T, Metric::kL2>(rows, row_limit, queries, splits, scratch,
                                              shared_limit, out, stream);
    case Metric::kInnerProduct:
      return LaunchScanMetric<T, Metric::kInnerProduct>(rows, row_limit, queries, splits, scratch,
                                                        shared_limit, out, stream);
    case Metric::kCosine:
      return LaunchScanMetric<T, Metric::kCosine>(rows, row_limit, queries, splits, scratch,
                                                  shared_limit, out, stream);
  }
  return cudaErrorInvalidValue;
}

template <typename T>
cudaError_t LaunchCandidates(const DeviceRows<T>& rows, const DeviceQueries& queries,
                             const uint64_t* offsets, const uint32_t* candidate_rows, Metric metric,
                             size_t shared_limit, const DeviceTopK& out, cudaStream_t stream) {
  switch (metric) {
    case Metric::kL2:
      return LaunchCandidatesMetric<T, Metric::kL2>(rows, queries, offsets, candidate_rows,
                                                    shared_limit, out, stream);
    case Metric::kInnerProduct:
      return LaunchCandidatesMetric<T, Metric::kInnerProduct>(
          rows, queries, offsets, candidate_rows, shared_limit, out, stream);
    case Metric::kCosine:
      return LaunchCandidatesMetric<T, Metric::kCosine>(rows, queries, offsets, candidate_rows,
                                                        shared_limit, out, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t LaunchTopKOfScores(const float* scores, uint32_t queries, uint32_t columns,
                               size_t shared_limit, const DeviceTopK& out, cudaStream_t stream) {
  const size_t bytes = MergeSharedBytes(out.k);
  if (cudaError_t error = PrepareShared(TopKOfScoresKernel, bytes, shared_limit);
      error != cudaSuccess) {
    return error;
  }
  TopKOfScoresKernel<<<queries, kThreads, bytes, stream>>>(scores, columns, out.k, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t LaunchScatterRows(T* rows, uint8_t* live, uint32_t stride, const uint32_t* row_ids,
                              const T* staged, uint32_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  ScatterRowsKernel<T><<<n, 128, 0, stream>>>(rows, live, stride, row_ids, staged, n);
  return cudaGetLastError();
}

template cudaError_t LaunchScan<float>(const DeviceRows<float>&, uint32_t, const DeviceQueries&,
                                       Metric, uint32_t, uint32_t*, size_t, const DeviceTopK&,
                                       cudaStream_t);
template cudaError_t LaunchScan<__half>(const DeviceRows<__half>&, uint32_t, const DeviceQueries&,
                                        Metric, uint32_t, uint32_t*, size_t, const DeviceTopK&,
                                        cudaStream_t);
template cudaError_t LaunchCandidates<float>(const DeviceRows<float>&, const DeviceQueries&,
                                             const uint64_t*, const uint32_t*, Metric, size_t,
                                             const DeviceTopK&, cudaStream_t);
template cudaError_t LaunchCandidates<__half>(const DeviceRows<__half>&, const DeviceQueries&,
                                              const uint64_t*, const uint32_t*, Metric, size_t,
                                              const DeviceTopK&, cudaStream_t);
template cudaError_t LaunchScatterRows<float>(float*, uint8_t*, uint32_t, const uint32_t*,
                                              const float*, uint32_t, cudaStream_t);
template cudaError_t LaunchScatterRows<__half>(__half*, uint8_t*, uint32_t, const uint32_t*,
                                               const __half*, uint32_t, cudaStream_t);

}  // namespace adanns::index::cuda
