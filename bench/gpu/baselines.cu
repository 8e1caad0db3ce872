// The GEMM + top-k baseline and the copy bandwidth probe.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "bench/gpu/baselines.h"
#include "index/cuda/device_buffer.cuh"
#include "index/cuda/gpu.h"
#include "index/cuda/scan_kernels.cuh"

namespace adanns::gpu_bench {
namespace {

using index::cuda::CudaStatus;
using index::cuda::DeviceBuffer;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class CublasGemmBaseline : public GemmBaseline {
 public:
  CublasGemmBaseline(size_t n, uint32_t dim, bool half) : n_(n), dim_(dim), half_(half) {}
  ~CublasGemmBaseline() override {
    if (handle_) cublasDestroy(handle_);
  }

  absl::Status Init(const std::vector<float>& rows) {
    if (cublasCreate(&handle_) != CUBLAS_STATUS_SUCCESS) {
      return absl::InternalError("cublasCreate failed");
    }
    if (half_) {
      std::vector<__half> converted(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) converted[i] = __float2half(rows[i]);
      if (absl::Status s = rows_.Reserve(converted.size() * 2); !s.ok()) return s;
      return CudaStatus(cudaMemcpy(rows_.as<void>(), converted.data(), converted.size() * 2,
                                   cudaMemcpyHostToDevice),
                        "row upload");
    }
    if (absl::Status s = rows_.Reserve(rows.size() * 4); !s.ok()) return s;
    return CudaStatus(
        cudaMemcpy(rows_.as<void>(), rows.data(), rows.size() * 4, cudaMemcpyHostToDevice),
        "row upload");
  }

  absl::StatusOr<double> Time(const std::vector<float>& queries, size_t batch, uint32_t k,
                              int reps) override {
    if (absl::Status s = UploadQueries(queries, batch); !s.ok()) return s;
    if (absl::Status s = scores_.Reserve(batch * n_ * 4); !s.ok()) return s;
    for (auto [buffer, bytes] : {std::pair{&distances_, batch * k * 4},
                                 {&result_rows_, batch * k * 4},
                                 {&counts_, batch * 4}}) {
      if (absl::Status s = buffer->Reserve(bytes); !s.ok()) return s;
    }
    const index::cuda::DeviceTopK out{distances_.as<float>(), result_rows_.as<uint32_t>(),
                                      counts_.as<uint32_t>(), k};
    const size_t shared = index::gpu::Probe().shared_bytes_per_block;
    std::vector<double> times;
    for (int rep = 0; rep < reps + 1; ++rep) {  // the first run warms up
      cudaDeviceSynchronize();
      const auto start = std::chrono::steady_clock::now();
      // Column-major: scores (n x batch) = rows^T-view (n x dim) * queries (dim x batch), which is
      // the row-major batch x n score matrix.
      const float one = 1, zero = 0;
      const cudaDataType type = half_ ? CUDA_R_16F : CUDA_R_32F;
      const cublasStatus_t status = cublasGemmEx(
          handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n_), static_cast<int>(batch),
          static_cast<int>(dim_), &one, rows_.as<void>(), type, static_cast<int>(dim_),
          queries_.as<void>(), type, static_cast<int>(dim_), &zero, scores_.as<float>(),
          CUDA_R_32F, static_cast<int>(n_), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
      if (status != CUBLAS_STATUS_SUCCESS) {
        return absl::InternalError(absl::StrCat("cublasGemmEx status ", static_cast<int>(status)));
      }
      if (absl::Status s = CudaStatus(
              index::cuda::LaunchTopKOfScores(scores_.as<float>(), static_cast<uint32_t>(batch),
                                              static_cast<uint32_t>(n_), shared, out, nullptr),
              "top-k of scores");
          !s.ok()) {
        return s;
      }
      if (absl::Status s = CudaStatus(cudaDeviceSynchronize(), "gemm baseline"); !s.ok()) return s;
      if (rep > 0) times.push_back(Seconds(start));
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

 private:
  absl::Status UploadQueries(const std::vector<float>& queries, size_t batch) {
    if (half_) {
      std::vector<__half> converted(batch * dim_);
      for (size_t i = 0; i < converted.size(); ++i) converted[i] = __float2half(queries[i]);
      if (absl::Status s = queries_.Reserve(converted.size() * 2); !s.ok()) return s;
      return CudaStatus(cudaMemcpy(queries_.as<void>(), converted.data(), converted.size() * 2,
                                   cudaMemcpyHostToDevice),
                        "query upload");
    }
    if (absl::Status s = queries_.Reserve(batch * dim_ * 4); !s.ok()) return s;
    return CudaStatus(cudaMemcpy(queries_.as<void>(), queries.data(), batch * dim_ * 4,
                                 cudaMemcpyHostToDevice),
                      "query upload");
  }

  size_t n_;
  uint32_t dim_;
  bool half_;
  cublasHandle_t handle_ = nullptr;
  DeviceBuffer rows_, queries_, scores_, distances_, result_rows_, counts_;
};

}  // namespace

absl::StatusOr<double> CopyBandwidth(uint64_t bytes, int reps) {
  DeviceBuffer source, target;
  if (absl::Status s = source.Reserve(bytes); !s.ok()) return s;
  if (absl::Status s = target.Reserve(bytes); !s.ok()) return s;
  cudaMemset(source.as<void>(), 1, bytes);
  double best = 0;
  for (int rep = 0; rep < reps + 1; ++rep) {
    cudaDeviceSynchronize();
    const auto start = std::chrono::steady_clock::now();
    cudaMemcpy(target.as<void>(), source.as<void>(), bytes, cudaMemcpyDeviceToDevice);
    if (absl::Status s = CudaStatus(cudaDeviceSynchronize(), "copy"); !s.ok()) return s;
    if (rep > 0) best = std::max(best, 2.0 * bytes / Seconds(start));
  }
  return best;
}

absl::StatusOr<std::unique_ptr<GemmBaseline>> GemmBaseline::Create(const std::vector<float>& rows,
                                                                   size_t n, uint32_t dim,
                                                                   bool half) {
  auto baseline = std::make_unique<CublasGemmBaseline>(n, dim, half);
  if (absl::Status s = baseline->Init(rows); !s.ok()) return s;
  return baseline;
}

}  // namespace adanns::gpu_bench
