// Lloyd's k-means on the GPU: cuBLAS SGEMM for point-centroid products (in row chunks), an argmin
// kernel (a warp per point), and a centroid update by atomic sums.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <vector>

#include "base/status_macros.h"
#include "index/cuda/device_buffer.cuh"
#include "index/cuda/gpu.h"
#include "index/cuda/gpu_kmeans.h"

namespace adanns::index::gpu {
namespace {

using cuda::CudaStatus;
using cuda::DeviceBuffer;

constexpr size_t kProductBudgetFloats = size_t{1} << 27;  // 512 MiB of products per chunk

absl::Status CublasStatus(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": cuBLAS status ", static_cast<int>(status)));
}

__global__ void SquaredNormsKernel(const float* vectors, size_t n, uint32_t dims, float* norms) {
  const size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float sum = 0;
  for (uint32_t j = 0; j < dims; ++j) sum = fmaf(vectors[i * dims + j], vectors[i * dims + j], sum);
  norms[i] = sum;
}

// A warp per point: the centroid with the smallest |c|^2 - 2 x.c (ties to the lowest index), and
// the point's squared distance |x|^2 - 2 x.c + |c|^2 (clamped at 0) added to the objective.
__global__ void ArgminKernel(const float* products, size_t n, uint32_t clusters,
                             const float* centroid_norms, const float* point_norms,
                             uint32_t* assignment, double* objective) {
  const size_t point = (size_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32;
  const uint32_t lane = threadIdx.x % 32;
  if (point >= n) return;
  float best = INFINITY;
  uint32_t best_cluster = 0;
  for (uint32_t c = lane; c < clusters; c += 32) {
    const float value = centroid_norms[c] - 2.0f * products[point * clusters + c];
    if (value < best) {
      best = value;
      best_cluster = c;
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float other = __shfl_xor_sync(0xFFFFFFFFu, best, offset);
    const uint32_t other_cluster = __shfl_xor_sync(0xFFFFFFFFu, best_cluster, offset);
    if (other < best || (other == best && other_cluster < best_cluster)) {
      best = other;
      best_cluster = other_cluster;
    }
  }
  if (lane == 0) {
    assignment[point] = best_cluster;
    atomicAdd(objective, static_cast<double>(fmaxf(point_norms[point] + best, 0.0f)));
  }
}

__global__ void AccumulateKernel(const float* points, size_t n, uint32_t dims,
                                 const uint32_t* assignment, float* sums, uint32_t* counts) {
  const size_t point = blockIdx.x;
  if (point >= n) return;
  const uint32_t cluster = assignment[point];
  for (uint32_t j = threadIdx.x; j < dims; j += blockDim.x) {
    atomicAdd(&sums[size_t{cluster} * dims + j], points[point * dims + j]);
  }
  if (threadIdx.x == 0) atomicAdd(&counts[cluster], 1u);
}

// New centroid = mean of its points (unit length when spherical); an empty cluster keeps its old
// centroid.
__global__ void UpdateKernel(const float* sums, const uint32_t* counts, uint32_t dims,
                             bool spherical, float* centroids) {
  const uint32_t cluster = blockIdx.x;
  const uint32_t count = counts[cluster];
  if (count == 0) return;
  __shared__ float norm_sqr;
  if (threadIdx.x == 0) norm_sqr = 0;
  __syncthreads();
  for (uint32_t j = threadIdx.x; j < dims; j += blockDim.x) {
    const float mean = sums[size_t{cluster} * dims + j] / count;
    centroids[size_t{cluster} * dims + j] = mean;
    if (spherical) atomicAdd(&norm_sqr, mean * mean);
  }
  __syncthreads();
  if (!spherical || norm_sqr <= 0) return;
  const float inverse = rsqrtf(norm_sqr);
  for (uint32_t j = threadIdx.x; j < dims; j += blockDim.x) {
    centroids[size_t{cluster} * dims + j] *= inverse;
  }
}

// Device state of one k-means run.
class Lloyd {
 public:
  Lloyd(size_t n, uint32_t dims, uint32_t clusters) : n_(n), dims_(dims), clusters_(clusters) {}
  ~Lloyd() {
    if (handle_ != nullptr) cublasDestroy(handle_);
  }

  absl::Status Init(const float* points, const std::vector<float>& centroids) {
    RETURN_IF_ERROR(CublasStatus(cublasCreate(&handle_), "cublasCreate"));
    chunk_ = std::max<size_t>(1, std::min(n_, kProductBudgetFloats / clusters_));
    for (auto [buffer, bytes] : {std::pair{&points_, n_ * dims_ * 4},
                                 {&centroids_, size_t{clusters_} * dims_ * 4},
                                 {&point_norms_, n_ * 4},
                                 {&centroid_norms_, size_t{clusters_} * 4},
                                 {&products_, chunk_ * clusters_ * 4},
                                 {&assignment_, n_ * 4},
                                 {&sums_, size_t{clusters_} * dims_ * 4},
                                 {&counts_, size_t{clusters_} * 4},
                                 {&objective_, 8}}) {
      RETURN_IF_ERROR(buffer->Reserve(bytes));
    }
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpy(points_.as<float>(), points, n_ * dims_ * 4, cudaMemcpyHostToDevice),
                   "k-means point upload"));
    RETURN_IF_ERROR(CudaStatus(cudaMemcpy(centroids_.as<float>(), centroids.data(),
                                          centroids.size() * 4, cudaMemcpyHostToDevice),
                               "k-means centroid upload"));
    SquaredNormsKernel<<<(n_ + 255) / 256, 256>>>(points_.as<float>(), n_, dims_,
                                                  point_norms_.as<float>());
    return CudaStatus(cudaDeviceSynchronize(), "k-means upload");
  }

  // Assigns every point; returns the objective of the current centroids.
  absl::StatusOr<double> Assign() {
    SquaredNormsKernel<<<(clusters_ + 255) / 256, 256>>>(centroids_.as<float>(), clusters_, dims_,
                                                         centroid_norms_.as<float>());
    RETURN_IF_ERROR(CudaStatus(cudaMemset(objective_.as<double>(), 0, 8), "k-means reset"));
    const float one = 1, zero = 0;
    for (size_t begin = 0; begin < n_; begin += chunk_) {
      const size_t rows = std::min(chunk_, n_ - begin);
      // Column-major view: products (clusters x rows) = centroids^T (clusters x dims) * points.
      RETURN_IF_ERROR(
          CublasStatus(cublasSgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(clusters_),
                                   static_cast<int>(rows), static_cast<int>(dims_), &one,
                                   centroids_.as<float>(), static_cast<int>(dims_),
                                   points_.as<float>() + begin * dims_, static_cast<int>(dims_),
                                   &zero, products_.as<float>(), static_cast<int>(clusters_)),
                       "cublasSgemm"));
      ArgminKernel<<<(rows * 32 + 255) / 256, 256>>>(
          products_.as<float>(), rows, clusters_, centroid_norms_.as<float>(),
          point_norms_.as<float>() + begin, assignment_.as<uint32_t>() + begin,
          objective_.as<double>());
    }
    RETURN_IF_ERROR(CudaStatus(cudaGetLastError(), "k-means assignment"));
    double objective = 0;
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpy(&objective, objective_.as<double>(), 8, cudaMemcpyDeviceToHost),
                   "k-means assignment"));
    return objective;
  }

  absl::Status Update(bool spherical) {
    RETURN_IF_ERROR(CudaStatus(cudaMemset(sums_.as<float>(), 0, size_t{clusters_} * dims_ * 4),
                               "k-means reset"));
    RETURN_IF_ERROR(
        CudaStatus(cudaMemset(counts_.as<uint32_t>(), 0, size_t{clusters_} * 4), "k-means reset"));
    AccumulateKernel<<<n_, std::min<uint32_t>(256, (dims_ + 31) / 32 * 32)>>>(
        points_.as<float>(), n_, dims_, assignment_.as<uint32_t>(), sums_.as<float>(),
        counts_.as<uint32_t>());
    UpdateKernel<<<clusters_, 128>>>(sums_.as<float>(), counts_.as<uint32_t>(), dims_, spherical,
                                     centroids_.as<float>());
    return CudaStatus(cudaDeviceSynchronize(), "k-means update");
  }

  absl::StatusOr<std::vector<float>> Centroids() const {
    std::vector<float> out(size_t{clusters_} * dims_);
    RETURN_IF_ERROR(CudaStatus(
        cudaMemcpy(out.data(), centroids_.as<float>(), out.size() * 4, cudaMemcpyDeviceToHost),
        "k-means centroid download"));
    return out;
  }

 private:
  size_t n_;
  uint32_t dims_;
  uint32_t clusters_;
  size_t chunk_ = 0;
  cublasHandle_t handle_ = nullptr;
  DeviceBuffer points_, centroids_, point_norms_, centroid_norms_, products_, assignment_, sums_,
      counts_, objective_;
};

absl::Status CheckUsable() {
  const DeviceInfo device = Probe();
  if (!device.available) return absl::UnavailableError("no usable GPU: " + device.reason);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KMeansResult> TrainKMeans(const float* points, size_t n, uint32_t dims,
                                         const KMeansOptions& options) {
  RETURN_IF_ERROR(CheckUsable());
  if (options.clusters == 0 || dims == 0) {
    return absl::InvalidArgumentError("k-means needs clusters > 0 and dims > 0");
  }
  if (n < options.clusters) {
    return absl::FailedPreconditionError(
        absl::StrCat("k-means needs at least ", options.clusters, " points, got ", n));
  }
  // Seeded initialisation on distinct points.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(options.seed);
  std::vector<float> centroids(size_t{options.clusters} * dims);
  for (uint32_t c = 0; c < options.clusters; ++c) {
    std::swap(order[c], order[c + rng() % (n - c)]);
    std::copy_n(points + order[c] * dims, dims, centroids.begin() + size_t{c} * dims);
  }
  Lloyd lloyd(n, dims, options.clusters);
  RETURN_IF_ERROR(lloyd.Init(points, centroids));
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t iteration = 0; iteration < options.iterations; ++iteration) {
    if (options.cancel != nullptr && options.cancel->load()) {
      return absl::CancelledError("k-means cancelled");
    }
    if (absl::StatusOr<double> objective = lloyd.Assign(); !objective.ok()) {
      return objective.status();
    }
    RETURN_IF_ERROR(lloyd.Update(options.spherical));
    if (options.progress) options.progress(double(iteration + 1) / options.iterations);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  absl::StatusOr<double> objective = lloyd.Assign();
  if (!objective.ok()) return objective.status();
  KMeansResult result;
  absl::StatusOr<std::vector<float>> centroids_out = lloyd.Centroids();
  if (!centroids_out.ok()) return centroids_out.status();
  result.centroids = std::move(*centroids_out);
  result.objective = *objective;
  result.seconds_per_iteration = options.iterations > 0 ? seconds / options.iterations : 0;
  return result;
}

absl::StatusOr<double> KMeansObjective(const float* points, size_t n, uint32_t dims,
                                       const std::vector<float>& centroids) {
  RETURN_IF_ERROR(CheckUsable());
  if (dims == 0 || centroids.empty() || centroids.size() % dims != 0) {
    return absl::InvalidArgumentError("centroids must hold a whole number of dims-float rows");
  }
  Lloyd lloyd(n, dims, static_cast<uint32_t>(centroids.size() / dims));
  RETURN_IF_ERROR(lloyd.Init(points, centroids));
  return lloyd.Assign();
}

}  // namespace adanns::index::gpu
