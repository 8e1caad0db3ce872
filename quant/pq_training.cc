// Our PQ k-means (see pq_training.h): per sub-space Lloyd iterations with a transposed-centroid
// assignment kernel: AVX2 + FMA (pq_assign_avx2.cc) when the CPU has it, else the portable loop
// below.
#include "quant/pq_training.h"

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "index/distance.h"

namespace adanns::quant::internal {
namespace {

constexpr uint32_t kLanes = 8;

// Centroids (k x dims, row-major) transposed, and their squared norms.
void Transpose(const float* centroids, uint32_t k, uint32_t dims, std::vector<float>* transposed,
               std::vector<float>* norms) {
  transposed->resize(size_t{k} * dims);
  norms->assign(k, 0.0f);
  for (uint32_t c = 0; c < k; ++c) {
    for (uint32_t t = 0; t < dims; ++t) {
      const float v = centroids[size_t{c} * dims + t];
      (*transposed)[size_t{t} * k + c] = v;
      (*norms)[c] += v * v;
    }
  }
}

// Labels of n points (stride `stride`) against k centroids, in parallel over points.
void AssignAll(const float* points, size_t stride, size_t n, uint32_t dims, const float* centroids,
               uint32_t k, uint32_t* labels) {
  std::vector<float> transposed, norms;
  Transpose(centroids, k, dims, &transposed, &norms);
  // Small calls (an upsert's one vector) stay on the caller's thread: an OpenMP team per call
  // would cost more than the work and leave spinning workers behind.
  constexpr size_t kChunk = 1024;
#pragma omp parallel for schedule(static) if (n > 2 * kChunk)
  for (size_t begin = 0; begin < n; begin += kChunk) {
    AssignNearest(points + begin * stride, stride, std::min(kChunk, n - begin), dims,
                  transposed.data(), norms.data(), k, labels + begin);
  }
}

// Lloyd's k-means of n points (n x dims, contiguous) into k centroids (k x dims).
void KMeans(const float* points, size_t n, uint32_t dims, uint32_t k, int iterations, uint64_t seed,
            float* centroids) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  for (uint32_t c = 0; c < k; ++c) {  // k distinct points (partial Fisher-Yates)
    std::swap(order[c], order[c + rng() % (n - c)]);
    std::copy_n(points + order[c] * dims, dims, centroids + size_t{c} * dims);
  }
  std::vector<uint32_t> labels(n), counts(k);
  std::vector<double> sums(size_t{k} * dims);
  for (int iteration = 0; iteration < iterations; ++iteration) {
    AssignAll(points, dims, n, dims, centroids, k, labels.data());
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t i = 0; i < n; ++i) {
      ++counts[labels[i]];
      for (uint32_t t = 0; t < dims; ++t)
        sums[size_t{labels[i]} * dims + t] += points[i * dims + t];
    }
    for (uint32_t c = 0; c < k; ++c) {
      if (counts[c] == 0) continue;
      for (uint32_t t = 0; t < dims; ++t) {
        centroids[size_t{c} * dims + t] =
            static_cast<float>(sums[size_t{c} * dims + t] / counts[c]);
      }
    }
    // An empty cluster takes half of the largest one: its centroid, nudged apart on both sides.
    for (uint32_t c = 0; c < k; ++c) {
      if (counts[c] != 0) continue;
      const auto largest =
          static_cast<uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
      if (counts[largest] < 2) break;
      for (uint32_t t = 0; t < dims; ++t) {
        float& source = centroids[size_t{largest} * dims + t];
        const float nudge = (t % 2 == 0 ? 1.0f : -1.0f) * (std::abs(source) + 1e-6f) / 1024;
        centroids[size_t{c} * dims + t] = source + nudge;
        source -= nudge;
      }
      counts[c] = counts[largest] / 2;
      counts[largest] -= counts[c];
    }
  }
}

}  // namespace

void AssignNearest(const float* points, size_t stride, size_t n, uint32_t dims,
                   const float* transposed, const float* norms, uint32_t k, uint32_t* labels) {
  static const bool avx2 = index::IsaSupported(index::Isa::kAvx2);
  if (avx2 && k % 64 == 0) {
    AssignNearestAvx2(points, stride, n, dims, transposed, norms, k, labels);
  } else {
    AssignNearestPortable(points, stride, n, dims, transposed, norms, k, labels);
  }
}

void AssignNearestPortable(const float* points, size_t stride, size_t n, uint32_t dims,
                           const float* transposed, const float* norms, uint32_t k,
                           uint32_t* labels) {
  std::vector<float> distances(k);
  float* dist = distances.data();
  for (size_t i = 0; i < n; ++i) {
    const float* x = points + i * stride;
    // |x - c|^2 ranks like |c|^2 - 2 x.c.
    for (uint32_t c = 0; c < k; ++c) dist[c] = norms[c];
    for (uint32_t t = 0; t < dims; ++t) {
      const float weight = -2.0f * x[t];
      const float* row = transposed + size_t{t} * k;
      for (uint32_t c = 0; c < k; ++c) dist[c] += weight * row[c];
    }
    float best[kLanes];
    uint32_t arg[kLanes];
    for (uint32_t l = 0; l < kLanes; ++l) {
      best[l] = dist[l];
      arg[l] = l;
    }
    for (uint32_t c = kLanes; c < k; c += kLanes) {
      for (uint32_t l = 0; l < kLanes; ++l) {
        const bool closer = dist[c + l] < best[l];
        best[l] = closer ? dist[c + l] : best[l];
        arg[l] = closer ? c + l : arg[l];
      }
    }
    uint32_t label = arg[0];
    float nearest = best[0];
    for (uint32_t l = 1; l < kLanes; ++l) {
      if (best[l] < nearest || (best[l] == nearest && arg[l] < label)) {
        nearest = best[l];
        label = arg[l];
      }
    }
    labels[i] = label;
  }
}

void FastProductQuantizer::train(size_t n, const float* x) {
  const auto sub = static_cast<uint32_t>(dsub);
  std::vector<float> points(n * sub);
  for (size_t j = 0; j < M; ++j) {
    for (size_t i = 0; i < n; ++i) std::copy_n(x + i * d + j * sub, sub, points.data() + i * sub);
    KMeans(points.data(), n, sub, static_cast<uint32_t>(ksub), cp.niter,
           static_cast<uint64_t>(cp.seed) + j, get_centroids(j, 0));
  }
}

void FastProductQuantizer::compute_codes(const float* x, uint8_t* codes, size_t n) const {
  const auto sub = static_cast<uint32_t>(dsub);
  std::vector<uint32_t> labels(n);
  for (size_t j = 0; j < M; ++j) {
    AssignAll(x + j * sub, d, n, sub, centroids.data() + j * ksub * sub,
              static_cast<uint32_t>(ksub), labels.data());
    for (size_t i = 0; i < n; ++i) codes[i * M + j] = static_cast<uint8_t>(labels[i]);
  }
}

}  // namespace adanns::quant::internal
