// The GPU BatchScorer: the collection's rows (a prefix, fp32 or fp16) resident on device 0, kept
// in step by SetRows/ClearRows, scored by the fused scan and candidate kernels.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <mutex>
#include <tuple>
#include <vector>

#include "base/status_macros.h"
#include "index/cuda/device_buffer.cuh"
#include "index/cuda/gpu.h"
#include "index/cuda/resident_rows.h"
#include "index/cuda/scan_kernels.cuh"
#include "index/prefix.h"

namespace adanns::index::gpu {
namespace {

using cuda::CudaStatus;
using cuda::DeviceBuffer;

// Queries prepared for a stage: each prefix copied contiguously, normalised for cosine.
std::vector<float> PrepareQueries(const QueryBatch& queries, uint32_t dims, Metric metric) {
  std::vector<float> prepared(queries.count * size_t{dims});
  for (size_t q = 0; q < queries.count; ++q) {
    CopyPrefix(queries.query(q), dims, metric, prepared.data() + q * dims);
  }
  return prepared;
}

class GpuScorer : public BatchScorer {
 public:
  GpuScorer(const ScorerOptions& options, const DeviceInfo& device, cudaStream_t stream)
      : options_(options),
        device_(device),
        resident_dims_(options.resident_dims == 0 ? options.dim : options.resident_dims),
        stride_((resident_dims_ + 3) / 4 * 4),
        element_bytes_(options.storage == Storage::kFloat16 ? 2 : 4),
        max_k_(cuda::MaxSelectK(resident_dims_, device.shared_bytes_per_block)),
        stream_(stream) {}
  ~GpuScorer() override { cudaStreamDestroy(stream_); }

  std::string device_name() const override { return device_.name; }
  uint32_t resident_dims() const override { return resident_dims_; }
  uint32_t max_k() const override { return max_k_; }
  // Every device buffer: resident rows and flags, and the staging, query, scratch and result
  // buffers the calls have grown.
  uint64_t memory_bytes() const {
    std::lock_guard lock(mutex_);
    uint64_t bytes = 0;
    for (const DeviceBuffer* buffer :
         {&rows_, &live_, &staging_, &queries_, &scratch_, &distances_, &result_rows_, &counts_}) {
      bytes += buffer->bytes();
    }
    return bytes;
  }

  absl::Status SetRows(std::span<const RowId> rows, const float* values, uint32_t dim) override {
    if (rows.empty()) return absl::OkStatus();
    if (dim < resident_dims_) {
      return absl::InvalidArgumentError("rows are shorter than the resident prefix");
    }
    if (element_bytes_ == 2) {
      RETURN_IF_ERROR(CheckRowsFitFloat16(rows, values, dim, resident_dims_));
    }
    // One write per row: the last one (two blocks writing one row would tear it).
    const std::vector<size_t> kept = cuda::LastWriteOfEachRow(rows);
    std::vector<RowId> unique_rows(kept.size());
    for (size_t i = 0; i < kept.size(); ++i) unique_rows[i] = rows[kept[i]];
    std::lock_guard lock(mutex_);
    const RowId highest = *std::max_element(rows.begin(), rows.end());
    RETURN_IF_ERROR(EnsureCapacity(size_t{highest} + 1));
    // Staged on the host in the storage type, scattered on the device.
    std::vector<unsigned char> staged(kept.size() * stride_ * element_bytes_, 0);
    for (size_t i = 0; i < kept.size(); ++i) {
      const float* source = values + kept[i] * dim;
      for (uint32_t j = 0; j < resident_dims_; ++j) {
        const size_t at = i * stride_ + j;
        if (element_bytes_ == 2) {
          reinterpret_cast<__half*>(staged.data())[at] = __float2half(source[j]);
        } else {
          reinterpret_cast<float*>(staged.data())[at] = source[j];
        }
      }
    }
    return Scatter(unique_rows, staged.data());
  }

  absl::Status ClearRows(std::span<const RowId> rows) override {
    std::lock_guard lock(mutex_);
    std::vector<RowId> present;
    for (RowId row : rows) {
      if (row < row_capacity_) present.push_back(row);
    }
    return Scatter(present, nullptr);
  }

  absl::StatusOr<BatchTopK> Scan(const QueryBatch& queries, uint32_t dims, uint32_t k,
                                 size_t row_limit) override {
    RETURN_IF_ERROR(CheckBatchRequest(*this, queries, dims, k));
    BatchTopK out;
    out.Reset(queries.count, k);
    if (queries.count == 0) return out;
    std::lock_guard lock(mutex_);
    const auto limit = static_cast<uint32_t>(std::min<size_t>(row_limit, row_capacity_));
    const uint32_t count = static_cast<uint32_t>(queries.count);
    const uint32_t splits = cuda::ScanSplits(count, std::max<uint32_t>(limit, 1),
                                             static_cast<uint32_t>(device_.multiprocessors));
    RETURN_IF_ERROR(UploadQueries(queries, dims));
    RETURN_IF_ERROR(scratch_.Reserve(cuda::ScanScratchWords(count, splits, k) * 4));
    RETURN_IF_ERROR(ReserveResults(count, k));
    const cuda::DeviceQueries device_queries{queries_.as<float>(), count, dims};
    cudaError_t error;
    if (element_bytes_ == 2) {
      error = cuda::LaunchScan(Rows<__half>(), limit, device_queries, options_.metric, splits,
                               scratch_.as<uint32_t>(), device_.shared_bytes_per_block, Results(k),
                               stream_);
    } else {
      error = cuda::LaunchScan(Rows<float>(), limit, device_queries, options_.metric, splits,
                               scratch_.as<uint32_t>(), device_.shared_bytes_per_block, Results(k),
                               stream_);
    }
    RETURN_IF_ERROR(CudaStatus(error, "fused scan"));
    RETURN_IF_ERROR(Download(out));
    return out;
  }

  absl::StatusOr<BatchTopK> ScoreCandidates(const QueryBatch& queries, uint32_t dims,
                                            const CandidateLists& candidates, uint32_t k) override {
    RETURN_IF_ERROR(CheckBatchRequest(*this, queries, dims, k));
    if (candidates.queries() != queries.count) {
      return absl::InvalidArgumentError("one candidate list per query is needed");
    }
    BatchTopK out;
    out.Reset(queries.count, k);
    if (queries.count == 0) return out;
    std::lock_guard lock(mutex_);
    const uint32_t count = static_cast<uint32_t>(queries.count);
    RETURN_IF_ERROR(UploadQueries(queries, dims));
    const size_t offset_bytes = candidates.offsets.size() * sizeof(uint64_t);
    const size_t row_bytes = candidates.rows.size() * sizeof(RowId);
    RETURN_IF_ERROR(scratch_.Reserve(offset_bytes + row_bytes + 16));
    auto* offsets = scratch_.as<uint64_t>();
    auto* rows = reinterpret_cast<uint32_t*>(scratch_.as<unsigned char>() + offset_bytes);
    RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(offsets, candidates.offsets.data(), offset_bytes,
                                               cudaMemcpyHostToDevice, stream_),
                               "candidate upload"));
    RETURN_IF_ERROR(CudaStatus(
        cudaMemcpyAsync(rows, candidates.rows.data(), row_bytes, cudaMemcpyHostToDevice, stream_),
        "candidate upload"));
    RETURN_IF_ERROR(ReserveResults(count, k));
    const cuda::DeviceQueries device_queries{queries_.as<float>(), count, dims};
    cudaError_t error;
    if (element_bytes_ == 2) {
      error = cuda::LaunchCandidates(Rows<__half>(), device_queries, offsets, rows, options_.metric,
                                     device_.shared_bytes_per_block, Results(k), stream_);
    } else {
      error = cuda::LaunchCandidates(Rows<float>(), device_queries, offsets, rows, options_.metric,
                                     device_.shared_bytes_per_block, Results(k), stream_);
    }
    RETURN_IF_ERROR(CudaStatus(error, "candidate scoring"));
    RETURN_IF_ERROR(Download(out));
    return out;
  }

 private:
  template <typename T>
  cuda::DeviceRows<T> Rows() const {
    return {rows_.as<T>(), live_.as<uint8_t>(), stride_, row_capacity_};
  }
  cuda::DeviceTopK Results(uint32_t k) const {
    return {distances_.as<float>(), result_rows_.as<uint32_t>(), counts_.as<uint32_t>(), k};
  }

  // Budget: the resident rows and their live flags (the per-call buffers are not resident).
  absl::Status EnsureCapacity(size_t rows) {
    const size_t row_bytes = size_t{stride_} * element_bytes_;
    absl::StatusOr<size_t> grown =
        cuda::GrownRowCapacity(rows, row_capacity_, row_bytes + 1, options_.memory_budget_bytes);
    if (!grown.ok()) {
      return absl::ResourceExhaustedError(
          absl::StrCat(resident_dims_, "-dim rows: ", grown.status().message()));
    }
    if (*grown == row_capacity_) return absl::OkStatus();
    const size_t kept = size_t{row_capacity_} * row_bytes;
    RETURN_IF_ERROR(rows_.Grow(*grown * row_bytes, kept, stream_));
    RETURN_IF_ERROR(live_.Grow(*grown, row_capacity_, stream_));
    row_capacity_ = static_cast<uint32_t>(*grown);
    return absl::OkStatus();
  }

  absl::Status Scatter(std::span<const RowId> rows, const void* staged_host) {
    if (rows.empty()) return absl::OkStatus();
    const size_t id_bytes = rows.size() * sizeof(RowId);
    const size_t staged_bytes = staged_host ? rows.size() * stride_ * element_bytes_ : 0;
    const size_t staged_offset = (id_bytes + 15) / 16 * 16;  // staged rows 16-byte aligned
    RETURN_IF_ERROR(staging_.Reserve(staged_offset + staged_bytes));
    auto* ids = staging_.as<uint32_t>();
    unsigned char* staged = staging_.as<unsigned char>() + staged_offset;
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(ids, rows.data(), id_bytes, cudaMemcpyHostToDevice, stream_),
                   "row id upload"));
    if (staged_bytes > 0) {
      RETURN_IF_ERROR(CudaStatus(
          cudaMemcpyAsync(staged, staged_host, staged_bytes, cudaMemcpyHostToDevice, stream_),
          "row upload"));
    }
    const auto n = static_cast<uint32_t>(rows.size());
    cudaError_t error;
    if (element_bytes_ == 2) {
      error = cuda::LaunchScatterRows(rows_.as<__half>(), live_.as<uint8_t>(), stride_, ids,
                                      staged_bytes ? reinterpret_cast<__half*>(staged) : nullptr, n,
                                      stream_);
    } else {
      error = cuda::LaunchScatterRows(rows_.as<float>(), live_.as<uint8_t>(), stride_, ids,
                                      staged_bytes ? reinterpret_cast<float*>(staged) : nullptr, n,
                                      stream_);
    }
    RETURN_IF_ERROR(CudaStatus(error, "row update"));
    return CudaStatus(cudaStreamSynchronize(stream_), "row update");
  }

  absl::Status UploadQueries(const QueryBatch& queries, uint32_t dims) {
    const std::vector<float> prepared = PrepareQueries(queries, dims, options_.metric);
    RETURN_IF_ERROR(queries_.Reserve(prepared.size() * sizeof(float)));
    return CudaStatus(
        cudaMemcpyAsync(queries_.as<float>(), prepared.data(), prepared.size() * sizeof(float),
                        cudaMemcpyHostToDevice, stream_),
        "query upload");
  }

  absl::Status ReserveResults(uint32_t queries, uint32_t k) {
    const size_t entries = size_t{queries} * k;
    RETURN_IF_ERROR(distances_.Reserve(entries * sizeof(float)));
    RETURN_IF_ERROR(result_rows_.Reserve(entries * sizeof(uint32_t)));
    return counts_.Reserve(size_t{queries} * sizeof(uint32_t));
  }

  absl::Status Download(BatchTopK& out) {
    for (auto [host, device, bytes] :
         {std::tuple<void*, const void*, size_t>{out.distances.data(), distances_.as<float>(),
                                                 out.distances.size() * sizeof(float)},
          {out.rows.data(), result_rows_.as<uint32_t>(), out.rows.size() * sizeof(RowId)},
          {out.counts.data(), counts_.as<uint32_t>(), out.counts.size() * sizeof(uint32_t)}}) {
      RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_),
                     "result download"));
    }
    return CudaStatus(cudaStreamSynchronize(stream_), "result download");
  }

  const ScorerOptions options_;
  const DeviceInfo device_;
  const uint32_t resident_dims_;
  const uint32_t stride_;
  const uint32_t element_bytes_;
  const uint32_t max_k_;
  const cudaStream_t stream_;  // owned

  mutable std::mutex mutex_;  // one caller on the device at a time
  uint32_t row_capacity_ = 0;
  DeviceBuffer rows_, live_, staging_, queries_, scratch_, distances_, result_rows_, counts_;
};

}  // namespace

DeviceInfo Probe() {
  DeviceInfo info;
  int count = 0;
  if (cudaError_t error = cudaGetDeviceCount(&count); error != cudaSuccess || count == 0) {
    info.reason = error != cudaSuccess ? cudaGetErrorString(error) : "no CUDA device";
    cudaGetLastError();  // clear the sticky error of a failed probe
    return info;
  }
  cudaDeviceProp props{};
  if (cudaError_t error = cudaGetDeviceProperties(&props, 0); error != cudaSuccess) {
    info.reason = cudaGetErrorString(error);
    return info;
  }
  size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  info.available = true;
  info.name = props.name;
  info.total_bytes = total_bytes;
  info.free_bytes = free_bytes;
  info.multiprocessors = props.multiProcessorCount;
  info.shared_bytes_per_block = props.sharedMemPerBlockOptin;
  return info;
}

absl::StatusOr<std::unique_ptr<BatchScorer>> CreateScorer(const ScorerOptions& options) {
  const DeviceInfo device = Probe();
  if (!device.available) return absl::UnavailableError("no usable GPU: " + device.reason);
  if (options.dim == 0 || options.resident_dims > options.dim) {
    return absl::InvalidArgumentError("resident_dims must be in 1..dim");
  }
  cudaStream_t stream = nullptr;
  RETURN_IF_ERROR(
      CudaStatus(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream creation"));
  return std::make_unique<GpuScorer>(options, device, stream);
}

uint64_t ScorerMemoryBytes(const BatchScorer& scorer) {
  const auto* gpu = dynamic_cast<const GpuScorer*>(&scorer);
  return gpu ? gpu->memory_bytes() : 0;
}

}  // namespace adanns::index::gpu
