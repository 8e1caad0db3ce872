// Server-wide search limits (--max_query_mflops, --max_k, --max_rerank_candidates) over a real
// loopback server, in both policies: over-limit requests are refused with RESOURCE_EXHAUSTED, or
// lowered to the limit and searched (the spent MFLOPs never above the cap).
#include <random>

#include "gtest/gtest.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 24;
constexpr size_t kVectors = 5000;  // exact search: 5000 x 24 = 0.12 MFLOPs
constexpr double kCapMflops = 0.05;

class LimitsTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    options.limits.max_mflops = kCapMflops;
    options.limits.max_k = 50;
    options.limits.max_rerank_candidates = 200;
    options.limits.clamp = clamp_;
    options.auto_calibrate = false;
  }

  void SetUp() override {
    InProcessServerTest::SetUp();
    ASSERT_EQ(Create("c", kDim, v1::L2), grpc::StatusCode::OK);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    v1::UpsertRequest message;
    message.set_collection("c");
    for (size_t i = 0; i < kVectors; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(i);
      for (uint32_t j = 0; j < kDim; ++j) v->add_values(normal(rng));
    }
    query_.assign(message.vectors(7).values().begin(), message.vectors(7).values().end());
    v1::UpsertResponse response;
    ASSERT_TRUE(UpsertMessage(message, &response).ok());
  }

  grpc::Status Search(uint32_t k, const v1::Budget& budget, v1::SearchResponse* response) {
    v1::SearchRequest request;
    request.set_collection("c");
    request.mutable_query()->Add(query_.begin(), query_.end());
    request.set_k(k);
    *request.mutable_budget() = budget;
    grpc::ClientContext context;
    return stub_->Search(&context, request, response);
  }

  bool clamp_ = false;
  std::vector<float> query_;
};

class ClampingLimitsTest : public LimitsTest {
 protected:
  ClampingLimitsTest() { clamp_ = true; }
};

v1::Budget Flat(uint32_t search_dims, uint32_t rerank_candidates = 0) {
  v1::Budget budget;
  budget.mutable_plan()->set_index("flat");
  budget.mutable_plan()->set_search_dims(search_dims);
  if (rerank_candidates > 0) budget.mutable_plan()->set_rerank_candidates(rerank_candidates);
  return budget;
}

TEST_F(LimitsTest, OverLimitRequestsAreRefused) {
  v1::SearchResponse response;
  // Within every limit: a 4-dim flat scan (0.02 MFLOPs).
  ASSERT_TRUE(Search(10, Flat(4), &response).ok());
  EXPECT_FALSE(response.cost().capped());
  EXPECT_EQ(response.hits_size(), 10);

  grpc::Status status = Search(51, Flat(4), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("k = 51"), std::string::npos) << status.error_message();
  v1::Budget mflops;
  mflops.set_max_mflops(1);
  EXPECT_EQ(Search(10, mflops, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The automatic plan (exact, 0.12 MFLOPs) needs more than the cap.
  status = Search(10, v1::Budget(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("MFLOPs per query"), std::string::npos);
  EXPECT_EQ(Search(10, Flat(4, 300), &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // A budget under the cap is the request's own and is planned as usual.
  mflops.set_max_mflops(0.045);  // the 8-dim funnel fits: 0.04 + 100 x 24 FLOPs
  ASSERT_TRUE(Search(10, mflops, &response).ok());
  EXPECT_LE(response.cost().mflops(), 0.045);
}

TEST_F(ClampingLimitsTest, OverLimitRequestsAreLoweredToTheLimit) {
  v1::SearchResponse response;
  ASSERT_TRUE(Search(80, Flat(4), &response).ok());
  EXPECT_EQ(response.hits_size(), 50);  // k lowered to --max_k

  v1::Budget mflops;
  mflops.set_max_mflops(1);
  ASSERT_TRUE(Search(10, mflops, &response).ok());
  EXPECT_LE(response.cost().mflops(), kCapMflops * (1 + 1e-9));

  // The automatic exact plan stops its scan at the cap.
  ASSERT_TRUE(Search(10, v1::Budget(), &response).ok());
  EXPECT_TRUE(response.cost().capped());
  EXPECT_LE(response.cost().mflops(), kCapMflops * (1 + 1e-9));
  EXPECT_EQ(response.hits_size(), 10);

  ASSERT_TRUE(Search(10, Flat(4, 300), &response).ok());
  EXPECT_EQ(response.plan().rerank_candidates(), 200u);
}

}  // namespace
}  // namespace adanns::testing
