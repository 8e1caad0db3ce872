// Server-wide limits over a real loopback server: search limits (--max_query_mflops, --max_k,
// --max_rerank_candidates) in both policies (refused with RESOURCE_EXHAUSTED, or lowered to the
// limit and searched, the spent MFLOPs never above the cap); upserts paused while memory is short;
// batches abandoned once their client gives up.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

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

TEST_F(LimitsTest, OverLimitRequestsAreRefused) {
  v1::SearchResponse response;
  // Within every limit: a 4-dim flat scan (0.02 MFLOPs).
  ASSERT_TRUE(Search(10, FlatPlan(4), &response).ok());
  EXPECT_FALSE(response.cost().capped());
  EXPECT_EQ(response.hits_size(), 10);

  grpc::Status status = Search(51, FlatPlan(4), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("k = 51"), std::string::npos) << status.error_message();
  v1::Budget mflops;
  mflops.set_max_mflops(1);
  EXPECT_EQ(Search(10, mflops, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The automatic plan (exact, 0.12 MFLOPs) needs more than the cap.
  status = Search(10, v1::Budget(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("MFLOPs per query"), std::string::npos);
  EXPECT_EQ(Search(10, FlatPlan(4, 300), &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // A budget under the cap is the request's own and is planned as usual.
  mflops.set_max_mflops(0.045);  // the 8-dim funnel fits: 0.04 + 100 x 24 FLOPs
  ASSERT_TRUE(Search(10, mflops, &response).ok());
  EXPECT_LE(response.cost().mflops(), 0.045);
}

TEST_F(ClampingLimitsTest, OverLimitRequestsAreLoweredToTheLimit) {
  v1::SearchResponse response;
  ASSERT_TRUE(Search(80, FlatPlan(4), &response).ok());
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

  ASSERT_TRUE(Search(10, FlatPlan(4, 300), &response).ok());
  EXPECT_EQ(response.plan().rerank_candidates(), 200u);
}

// --max_rerank_candidates below --max_k: a clamped re-rank never goes over its limit.
class TightRerankLimitTest : public LimitsTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    LimitsTest::Configure(options);
    options.limits.clamp = true;
    options.limits.max_rerank_candidates = 20;
  }
};

TEST_F(TightRerankLimitTest, ClampingNeverExceedsTheLimitAndAKAboveItIsRefused) {
  v1::SearchResponse response;
  ASSERT_TRUE(Search(10, FlatPlan(4, 100), &response).ok());
  EXPECT_EQ(response.plan().rerank_candidates(), 20u);
  EXPECT_EQ(response.hits_size(), 10);
  ASSERT_TRUE(Search(20, FlatPlan(4, 100), &response).ok());
  EXPECT_EQ(response.plan().rerank_candidates(), 20u);
  // k = 30 would need 30 candidates: refused, not served over the limit.
  const grpc::Status refused = Search(30, FlatPlan(4, 100), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("--max_rerank_candidates"), std::string::npos)
      << refused.error_message();
}

class MemoryLimitTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    options.service.max_resident_bytes = 1;  // any process is above it
    options.auto_calibrate = false;
  }
};

TEST_F(MemoryLimitTest, UpsertsPauseWhileMemoryIsShortAndReadsGoOn) {
  ASSERT_EQ(Create("c", 4, v1::L2), grpc::StatusCode::OK);
  v1::UpsertRequest message;
  message.set_collection("c");
  v1::Vector* v = message.add_vectors();
  v->set_id(1);
  for (const float x : {1.0f, 2.0f, 3.0f, 4.0f}) v->add_values(x);
  v1::UpsertResponse response;
  const grpc::Status refused = UpsertMessage(message, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("upserts are paused"), std::string::npos);
  v1::SearchRequest search;
  search.set_collection("c");
  for (const float x : {1.0f, 2.0f, 3.0f, 4.0f}) search.add_query(x);
  search.set_k(1);
  v1::SearchResponse found;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Search(&context, search, &found).ok());
  EXPECT_EQ(found.hits_size(), 0);  // nothing was written
}

class DeadlineTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    options.metrics_listen = "127.0.0.1:0";
    options.auto_calibrate = false;
  }
};

// A batch whose client gives up is abandoned by the server between queries (recorded as
// CANCELLED), instead of running to the end for nobody.
TEST_F(DeadlineTest, AbandonedBatchesStopEarly) {
  constexpr uint32_t kBigDim = 256;
  ASSERT_EQ(Create("big", kBigDim, v1::L2), grpc::StatusCode::OK);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (int chunk = 0; chunk < 4; ++chunk) {
    v1::UpsertRequest message;
    message.set_collection("big");
    for (int i = 0; i < 5000; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(chunk * 5000 + i);
      for (uint32_t j = 0; j < kBigDim; ++j) v->add_values(normal(rng));
    }
    v1::UpsertResponse response;
    ASSERT_TRUE(UpsertMessage(message, &response).ok());
  }
  // 2,000 exact queries over 20,000 x 256 floats: about 10 GFLOPs, far beyond a 20 ms deadline.
  v1::SearchBatchRequest batch;
  batch.set_collection("big");
  batch.set_query_dims(kBigDim);
  for (int q = 0; q < 2000 * static_cast<int>(kBigDim); ++q) batch.add_queries(normal(rng));
  batch.set_k(10);
  v1::SearchBatchResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(20));
  EXPECT_EQ(stub_->SearchBatch(&context, batch, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server's own record of the call: abandoned (bounded wait for it to notice).
  bool abandoned = false;
  for (int attempt = 0; attempt < 100 && !abandoned; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string text = ScrapeMetrics();
    abandoned = text.find("adanns_requests_total{code=\"CANCELLED\",method=\"SearchBatch\"} 1") !=
                std::string::npos;
  }
  EXPECT_TRUE(abandoned);
}

}  // namespace
}  // namespace adanns::testing
