// Grow-only device memory and CUDA error conversion for the .cu files.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::index::cuda {

inline absl::Status CudaStatus(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return absl::OkStatus();
  if (error == cudaErrorMemoryAllocation) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of device memory"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", cudaGetErrorString(error)));
}

// Device memory that only grows; contents are not kept across a growth unless Grow is used.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // At least `bytes` of (uninitialised) memory.
  absl::Status Reserve(size_t bytes) {
    if (bytes <= bytes_) return absl::OkStatus();
    cudaFree(data_);
    data_ = nullptr;
    bytes_ = 0;
    if (absl::Status s = CudaStatus(cudaMalloc(&data_, bytes), "cudaMalloc"); !s.ok()) return s;
    bytes_ = bytes;
    return absl::OkStatus();
  }
  // At least `bytes`, keeping the first `keep` bytes and zeroing the rest, ordered on `stream`
  // (the scorer's non-blocking stream: on the legacy stream the zeroing could land after a later
  // scatter).
  absl::Status Grow(size_t bytes, size_t keep, cudaStream_t stream) {
    if (bytes <= bytes_) return absl::OkStatus();
    void* fresh = nullptr;
    RETURN_IF_ERROR(CudaStatus(cudaMalloc(&fresh, bytes), "cudaMalloc"));
    if (absl::Status filled = FillGrown(fresh, bytes, keep, stream); !filled.ok()) {
      cudaFree(fresh);
      return filled;
    }
    cudaFree(data_);
    data_ = fresh;
    bytes_ = bytes;
    return absl::OkStatus();
  }

  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

 private:
  // The first `keep` bytes of the current memory into `fresh`, the rest zeroed.
  absl::Status FillGrown(void* fresh, size_t bytes, size_t keep, cudaStream_t stream) const {
    RETURN_IF_ERROR(CudaStatus(
        cudaMemsetAsync(static_cast<unsigned char*>(fresh) + keep, 0, bytes - keep, stream),
        "device buffer zeroing"));
    if (keep > 0) {
      RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(fresh, data_, keep, cudaMemcpyDeviceToDevice, stream),
                     "device buffer copy"));
    }
    return CudaStatus(cudaStreamSynchronize(stream), "device buffer growth");
  }

  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace adanns::index::cuda
