// Service-level behaviour over a real loopback server: every metric's scores, SearchBatch equal to
// one Search per query, drop and re-create, health checking and the metrics endpoint.
#include <chrono>
#include <cmath>
#include <future>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 24;

class ServiceTest : public InProcessServerTest {
 protected:
  void Fill(const std::string& name, v1::Metric metric, size_t count) {
    ASSERT_EQ(Create(name, kDim, metric), grpc::StatusCode::OK);
    std::mt19937 rng(9);
    std::normal_distribution<float> normal;
    v1::UpsertRequest message;
    message.set_collection(name);
    rows_.assign(count, std::vector<float>(kDim));
    for (size_t i = 0; i < count; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(1000 + i);
      for (float& x : rows_[i]) x = normal(rng);
      v->mutable_values()->Add(rows_[i].begin(), rows_[i].end());
    }
    v1::UpsertResponse response;
    ASSERT_TRUE(UpsertMessage(message, &response).ok());
    ASSERT_EQ(response.upserted(), count);
  }

  v1::SearchResponse Search(const std::string& name, const std::vector<float>& query, uint32_t k,
                            uint32_t search_dims) {
    v1::SearchRequest request;
    request.set_collection(name);
    request.mutable_query()->Add(query.begin(), query.end());
    request.set_k(k);
    request.mutable_budget()->mutable_plan()->set_search_dims(search_dims);
    v1::SearchResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->Search(&context, request, &response).ok());
    return response;
  }

  std::vector<std::vector<float>> rows_;
};

// The best hit's score is the metric's score at the plan's prefix, cosine re-normalised.
TEST_F(ServiceTest, ScoresFollowTheMetricAtThePrefix) {
  for (v1::Metric metric : {v1::L2, v1::INNER_PRODUCT, v1::COSINE}) {
    const std::string name = "m" + std::to_string(metric);
    Fill(name, metric, 300);
    std::vector<float> query = rows_[17];
    for (float& x : query) x *= 3.0f;  // the same direction, three times as long
    const v1::SearchResponse response = Search(name, query, 5, 10);
    ASSERT_EQ(response.hits_size(), 5);
    const std::vector<float>& best_row = rows_[response.hits(0).id() - 1000];
    double l2 = 0, dot = 0, qn = 0, xn = 0;
    for (uint32_t j = 0; j < 10; ++j) {
      l2 += (query[j] - best_row[j]) * (query[j] - best_row[j]);
      dot += query[j] * best_row[j];
      qn += query[j] * query[j];
      xn += best_row[j] * best_row[j];
    }
    const double want = metric == v1::L2       ? l2
                        : metric == v1::COSINE ? dot / std::sqrt(qn * xn)
                                               : dot;
    EXPECT_NEAR(response.hits(0).score(), want, 1e-4 * (1 + std::abs(want))) << name;
    if (metric == v1::COSINE) {
      EXPECT_EQ(response.hits(0).id(), 1017u);  // scale-free: the row itself
      EXPECT_NEAR(response.hits(0).score(), 1.0, 1e-5);
    }
  }
}

TEST_F(ServiceTest, SearchBatchEqualsOneSearchPerQuery) {
  Fill("c", v1::L2, 500);
  v1::SearchBatchRequest batch;
  batch.set_collection("c");
  batch.set_query_dims(16);  // prefix queries
  batch.set_k(7);
  batch.mutable_budget()->mutable_plan()->set_search_dims(8);
  batch.mutable_budget()->mutable_plan()->set_rerank_dims(16);
  for (size_t q = 0; q < 40; ++q)
    batch.mutable_queries()->Add(rows_[q * 3].begin(), rows_[q * 3].begin() + 16);
  v1::SearchBatchResponse responses;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->SearchBatch(&context, batch, &responses).ok());
  ASSERT_EQ(responses.results_size(), 40);
  for (size_t q = 0; q < 40; ++q) {
    v1::SearchRequest one;
    one.set_collection("c");
    one.mutable_query()->Add(rows_[q * 3].begin(), rows_[q * 3].begin() + 16);
    one.set_k(7);
    *one.mutable_budget() = batch.budget();
    v1::SearchResponse single;
    grpc::ClientContext c;
    ASSERT_TRUE(stub_->Search(&c, one, &single).ok());
    ASSERT_EQ(single.hits_size(), responses.results(q).hits_size());
    for (int i = 0; i < single.hits_size(); ++i) {
      EXPECT_EQ(single.hits(i).id(), responses.results(q).hits(i).id());
    }
    EXPECT_EQ(responses.results(q).plan().rerank_dims(), 16u);
    EXPECT_EQ(responses.results(q).plan().rerank_candidates(), 100u);
  }
}

TEST_F(ServiceTest, DropThenRecreateStartsEmpty) {
  Fill("c", v1::L2, 50);
  v1::DropCollectionRequest drop;
  drop.set_name("c");
  v1::DropCollectionResponse dropped;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->DropCollection(&c1, drop, &dropped).ok());
  EXPECT_EQ(dropped.dropped_vectors(), 50u);
  ASSERT_EQ(Create("c", 4, v1::COSINE), grpc::StatusCode::OK);
  v1::DescribeCollectionRequest describe;
  describe.set_name("c");
  v1::CollectionInfo info;
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->DescribeCollection(&c2, describe, &info).ok());
  EXPECT_EQ(info.vector_count(), 0u);
  EXPECT_EQ(info.dim(), 4u);
  EXPECT_EQ(info.metric(), v1::COSINE);
}

TEST_F(ServiceTest, HealthCheckServes) {
  EXPECT_EQ(HealthCheck(), std::string("\x08\x01", 2));  // status: SERVING
}

// BuildIndex with no kind builds the default index, a graph, and calibrates the collection
// afterwards, so a target-recall search is planned from measurements.
TEST_F(ServiceTest, DefaultBuildIsACalibratedGraph) {
  Fill("c", v1::L2, 600);
  v1::BuildIndexRequest build;
  build.set_collection("c");
  v1::BuildIndexResponse started;
  grpc::ClientContext build_context;
  ASSERT_TRUE(stub_->BuildIndex(&build_context, build, &started).ok());
  ASSERT_EQ(started.indexes_size(), 1);
  EXPECT_EQ(started.indexes(0).name(), "hnsw");
  v1::CollectionInfo info;
  for (int attempt = 0; attempt < 600; ++attempt) {  // bounded: 60 s
    v1::DescribeCollectionRequest describe;
    describe.set_name("c");
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DescribeCollection(&context, describe, &info).ok());
    if (info.indexes_size() == 2 && info.indexes(1).state() == "ready" &&
        info.calibration().state() == "ready") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(info.indexes_size(), 2);
  EXPECT_EQ(info.indexes(1).state(), "ready");
  EXPECT_EQ(info.indexes(1).params().at("graph_dims"), kDim);  // 24 dims: no shorter prefix
  ASSERT_EQ(info.calibration().state(), "ready");
  EXPECT_EQ(info.calibration().frontiers_size(), 3);  // k = 1, 10, 100

  v1::SearchRequest request;
  request.set_collection("c");
  request.mutable_query()->Add(rows_[3].begin(), rows_[3].end());
  request.set_k(10);
  request.mutable_budget()->set_target_recall(0.9f);
  v1::SearchResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Search(&context, request, &response).ok());
  EXPECT_TRUE(response.has_estimate());
  EXPECT_GE(response.estimate().recall(), 0.9);
  EXPECT_EQ(response.hits(0).id(), 1003u);
}

}  // namespace
}  // namespace adanns::testing
