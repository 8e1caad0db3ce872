// Our PQ assignment against FAISS's: the AVX2 and portable kernels agree, and FastProductQuantizer
// encodes exactly as faiss::ProductQuantizer does with the same centroids.
#include "quant/pq_training.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "index/distance.h"

namespace adanns::quant::internal {
namespace {

std::vector<float> Gaussian(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

TEST(PqTrainingTest, AssignmentKernelsAgree) {
  constexpr uint32_t kK = 256;
  constexpr size_t kPoints = 500;
  for (const uint32_t dims : {1u, 4u, 8u, 13u, 49u}) {
    const std::vector<float> points = Gaussian(kPoints * dims, dims);
    const std::vector<float> transposed = Gaussian(size_t{kK} * dims, 100 + dims);
    std::vector<float> norms(kK, 0.0f);
    for (uint32_t t = 0; t < dims; ++t) {
      for (uint32_t c = 0; c < kK; ++c) norms[c] += transposed[t * kK + c] * transposed[t * kK + c];
    }
    std::vector<uint32_t> portable(kPoints), best(kPoints);
    AssignNearestPortable(points.data(), dims, kPoints, dims, transposed.data(), norms.data(), kK,
                          portable.data());
    // The portable kernel is the nearest centroid by direct computation.
    for (size_t i = 0; i < kPoints; i += 50) {
      double nearest = 1e30;
      uint32_t label = 0;
      for (uint32_t c = 0; c < kK; ++c) {
        double d = 0;
        for (uint32_t t = 0; t < dims; ++t) {
          const double diff = points[i * dims + t] - transposed[t * kK + c];
          d += diff * diff;
        }
        if (d < nearest) {
          nearest = d;
          label = c;
        }
      }
      EXPECT_EQ(portable[i], label) << "dims " << dims << " point " << i;
    }
    if (!index::IsaSupported(index::Isa::kAvx2)) continue;
    AssignNearestAvx2(points.data(), dims, kPoints, dims, transposed.data(), norms.data(), kK,
                      best.data());
    EXPECT_EQ(best, portable) << "dims " << dims;
  }
}

TEST(PqTrainingTest, EncodesLikeFaissWithTheSameCentroids) {
  constexpr size_t kDims = 32, kM = 8, kTrain = 3000;
  const std::vector<float> data = Gaussian(kTrain * kDims, 9);
  FastProductQuantizer ours(kDims, kM);
  ours.cp.niter = 8;
  ours.train(kTrain, data.data());
  faiss::ProductQuantizer reference(kDims, kM, 8);
  reference.centroids = ours.centroids;
  std::vector<uint8_t> our_codes(kTrain * kM), faiss_codes(kTrain * kM);
  ours.compute_codes(data.data(), our_codes.data(), kTrain);
  reference.compute_codes(data.data(), faiss_codes.data(), kTrain);
  size_t differ = 0;
  for (size_t i = 0; i < our_codes.size(); ++i) differ += our_codes[i] != faiss_codes[i];
  // Float rounding may flip an exact tie; random data has essentially none.
  EXPECT_LE(differ, our_codes.size() / 1000) << differ << " of " << our_codes.size();
  // Trained centroids quantize well: mean squared error below the data's variance per dim / 4.
  std::vector<float> decoded(kTrain * kDims);
  ours.decode(our_codes.data(), decoded.data(), kTrain);
  double error = 0;
  for (size_t i = 0; i < decoded.size(); ++i) {
    error += (decoded[i] - data[i]) * (decoded[i] - data[i]);
  }
  EXPECT_LT(error / decoded.size(), 0.25);
}

}  // namespace
}  // namespace adanns::quant::internal
