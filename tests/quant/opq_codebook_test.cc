// Codebook specs, and a trained codebook against FAISS: the rotation is orthonormal, our ADC
// distances equal FAISS IndexPQ's for the same codes, and a serialized codebook reads back equal.
#include "quant/opq_codebook.h"

#include <faiss/IndexPQ.h>

#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "quant/adc_scan.h"

namespace adanns::quant {
namespace {

TEST(CodebookSpecTest, ParsesNamesAndRejectsWhatTheKernelsCannotTake) {
  ASSERT_TRUE(ParseCodebookSpec("128x16").ok());
  EXPECT_EQ(ParseCodebookSpec("opq64x8")->prefix_dims, 64u);
  EXPECT_EQ(CodebookName(*ParseCodebookSpec("128x16")), "opq128x16");
  for (const char* bad : {"", "128", "x16", "128x", "128x16x", "opq", "-1x8", "12.5x8"}) {
    EXPECT_EQ(ParseCodebookSpec(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidateCodebookSpec({128, 16}, 784).ok());
  EXPECT_TRUE(ValidateCodebookSpec({784, 16}, 784).ok());
  EXPECT_FALSE(ValidateCodebookSpec({100, 16}, 784).ok());   // not a multiple of M
  EXPECT_FALSE(ValidateCodebookSpec({1024, 16}, 784).ok());  // longer than the vectors
  EXPECT_FALSE(ValidateCodebookSpec({128, 12}, 784).ok());   // M not a multiple of 8
  EXPECT_FALSE(ValidateCodebookSpec({128, 128}, 784).ok());  // M above 64
  EXPECT_FALSE(ValidateCodebookSpec({0, 8}, 784).ok());
  EXPECT_FALSE(ValidateCodebookSpec({64, 0}, 784).ok());
}

class OpqCodebookTest : public testing::Test {
 protected:
  static constexpr uint32_t kDims = 32;
  static constexpr uint32_t kM = 8;
  static constexpr size_t kTrain = 2000;

  // Trained once (FAISS k-means takes seconds) for the suite.
  static void SetUpTestSuite() {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    data_ = new std::vector<float>(kTrain * kDims);
    for (size_t i = 0; i < kTrain; ++i) {
      for (uint32_t j = 0; j < kDims; ++j) {
        (*data_)[i * kDims + j] = normal(rng) / (1.0f + 0.2f * j);
      }
    }
    OpqTraining training;
    training.opq_iterations = 4;
    absl::StatusOr<OpqCodebook> trained = OpqCodebook::Train({kDims, kM}, *data_, training);
    ASSERT_TRUE(trained.ok()) << trained.status();
    codebook_ = new OpqCodebook(std::move(*trained));
  }
  static void TearDownTestSuite() {
    delete codebook_;
    delete data_;
  }

  static inline std::vector<float>* data_ = nullptr;
  static inline OpqCodebook* codebook_ = nullptr;
};

TEST_F(OpqCodebookTest, RotationIsOrthonormal) {
  const std::span<const float> r = codebook_->rotation();
  for (uint32_t a = 0; a < kDims; ++a) {
    for (uint32_t b = 0; b < kDims; ++b) {
      double dot = 0;
      for (uint32_t j = 0; j < kDims; ++j) dot += double(r[a * kDims + j]) * r[b * kDims + j];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-4);
    }
  }
}

TEST_F(OpqCodebookTest, AdcDistancesEqualFaissIndexPqDistances) {
  constexpr size_t kCoded = 500;
  std::vector<uint8_t> codes(kCoded * kM);
  codebook_->Encode(data_->data(), kCoded, codes.data());
  // FAISS's IndexPQ over the same centroids and codes scores rotated queries.
  faiss::IndexPQ pq(kDims, kM, 8);
  pq.pq.centroids.assign(codebook_->centroids().begin(), codebook_->centroids().end());
  pq.is_trained = true;
  pq.codes.assign(codes.begin(), codes.end());
  pq.ntotal = kCoded;
  faiss::IndexPQ ip_pq(kDims, kM, 8, faiss::METRIC_INNER_PRODUCT);
  ip_pq.pq.centroids = pq.pq.centroids;
  ip_pq.is_trained = true;
  ip_pq.codes = pq.codes;
  ip_pq.ntotal = kCoded;

  std::vector<float> table(kM * kCentroidsPerSubspace), adc(kCoded), rotated(kDims);
  std::vector<float> faiss_distances(kCoded);
  std::vector<faiss::Index::idx_t> labels(kCoded);
  for (size_t q = kTrain - 5; q < kTrain; ++q) {
    codebook_->Rotate(data_->data() + q * kDims, 1, rotated.data());
    for (const bool inner_product : {false, true}) {
      codebook_->BuildTable(rotated.data(), inner_product, table.data());
      BestAdcKernel().scan(table.data(), kM, codes.data(), nullptr, kCoded, adc.data());
      const faiss::IndexPQ& reference = inner_product ? ip_pq : pq;
      reference.search(1, rotated.data(), kCoded, faiss_distances.data(), labels.data());
      for (size_t i = 0; i < kCoded; ++i) {
        // Our table negates inner products (smaller is better everywhere).
        const float ours = inner_product ? -adc[labels[i]] : adc[labels[i]];
        ASSERT_NEAR(ours, faiss_distances[i], 1e-4f * (1 + std::abs(faiss_distances[i])))
            << "query " << q << " rank " << i << (inner_product ? " ip" : " l2");
      }
    }
  }
}

TEST_F(OpqCodebookTest, ReadsBackWhatItWrites) {
  std::string bytes;
  codebook_->AppendTo(bytes);
  BlobReader reader(bytes);
  absl::StatusOr<OpqCodebook> read = OpqCodebook::Read(reader);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(reader.done());
  EXPECT_TRUE(
      std::equal(read->rotation().begin(), read->rotation().end(), codebook_->rotation().begin()));
  EXPECT_TRUE(std::equal(read->centroids().begin(), read->centroids().end(),
                         codebook_->centroids().begin()));
  std::string truncated = bytes.substr(0, bytes.size() - 9);
  BlobReader short_reader(truncated);
  EXPECT_EQ(OpqCodebook::Read(short_reader).status().code(), absl::StatusCode::kDataLoss);
}

TEST(OpqCodebookTrainingTest, NeedsOneVectorPerCentroid) {
  std::vector<float> few(100 * 16, 1.0f);
  EXPECT_EQ(OpqCodebook::Train({16, 8}, few, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace adanns::quant
