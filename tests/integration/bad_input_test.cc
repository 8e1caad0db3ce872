// Every RPC given bad input answers a precise status and message, writes nothing, and the server
// keeps serving. Runs against a real gRPC server on loopback with real RocksDB, and again through
// a cluster router (a real etcd, one data node holding the router's default 4 shards): the same
// corpus must get the same statuses and messages there.
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/etcd_process.h"
#include "tests/integration/in_process_server.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kDim = 8;

enum class Topology { kStandalone, kRouted };

class BadInputTest : public InProcessServerTest, public ::testing::WithParamInterface<Topology> {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    if (GetParam() == Topology::kRouted) StartCluster();
    // The node is in etcd, but the router may not have read it yet (FAILED_PRECONDITION until it
    // has): bounded retries.
    grpc::StatusCode created = Create("c", kDim, v1::L2);
    for (int attempt = 0; attempt < 100 && created == grpc::StatusCode::FAILED_PRECONDITION;
         ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      created = Create("c", kDim, v1::L2);
    }
    ASSERT_EQ(created, grpc::StatusCode::OK);
    ASSERT_TRUE(UpsertMessages({MakeMessage("c", 0, 10)}).ok());
  }

  // etcd, a data node and a router (real processes); stub_ then talks to the router.
  void StartCluster() {
    etcd_ = std::make_unique<EtcdProcess>(dir_.path() + "/etcd");
    const std::vector<std::string> cluster = {"--etcd=" + etcd_->endpoint(), "--cluster=b",
                                              "--lease_seconds=2"};
    std::vector<std::string> flags = cluster;
    flags.push_back("--role=data");
    node_ = std::make_unique<ServerProcess>(dir_.path() + "/node", flags);
    flags = cluster;
    flags.push_back("--role=router");
    router_ = std::make_unique<ServerProcess>(dir_.path() + "/router", flags);
    ASSERT_TRUE(AwaitRegisteredNodes(*etcd_, "b", 1));
    stub_ = router_->NewStub();
  }

  // The port of the server under test (the router when routed).
  int port() const { return router_ != nullptr ? router_->port() : server_->port(); }

  static v1::UpsertRequest MakeMessage(const std::string& collection, uint64_t first_id,
                                       size_t count, size_t dim = kDim) {
    v1::UpsertRequest message;
    message.set_collection(collection);
    for (size_t i = 0; i < count; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(first_id + i);
      for (size_t j = 0; j < dim; ++j) v->add_values(static_cast<float>(first_id + i + j));
    }
    return message;
  }

  grpc::Status UpsertMessages(const std::vector<v1::UpsertRequest>& messages,
                              v1::UpsertResponse* response = nullptr) {
    v1::UpsertResponse ignored;
    grpc::ClientContext context;
    auto writer = stub_->Upsert(&context, response ? response : &ignored);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;  // the server ended the stream early
    }
    writer->WritesDone();
    return writer->Finish();
  }

  uint64_t VectorCount(const std::string& name) {
    v1::DescribeCollectionRequest request;
    request.set_name(name);
    v1::CollectionInfo info;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->DescribeCollection(&context, request, &info).ok());
    return info.vector_count();
  }

  grpc::Status Search(v1::SearchRequest request, v1::SearchResponse* response = nullptr) {
    if (request.collection().empty()) request.set_collection("c");
    v1::SearchResponse ignored;
    grpc::ClientContext context;
    return stub_->Search(&context, request, response ? response : &ignored);
  }

  static v1::SearchRequest Query(size_t dims, uint32_t k = 3) {
    v1::SearchRequest request;
    for (size_t j = 0; j < dims; ++j) request.add_query(1.0f);
    request.set_k(k);
    return request;
  }

  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<ServerProcess> node_;
  std::unique_ptr<ServerProcess> router_;
};

INSTANTIATE_TEST_SUITE_P(On, BadInputTest,
                         ::testing::Values(Topology::kStandalone, Topology::kRouted),
                         [](const ::testing::TestParamInfo<Topology>& param_info) {
                           return param_info.param == Topology::kStandalone ? "Standalone"
                                                                            : "Router";
                         });

void ExpectStatus(const grpc::Status& status, grpc::StatusCode code, const std::string& text) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(text));
}

TEST_P(BadInputTest, CreateCollection) {
  auto create = [&](const std::string& name, uint32_t dim, v1::Metric metric,
                    std::vector<uint32_t> nesting = {}) {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    request.set_dim(dim);
    request.set_metric(metric);
    for (uint32_t d : nesting) request.add_nesting_dims(d);
    v1::CollectionInfo info;
    grpc::ClientContext context;
    return stub_->CreateCollection(&context, request, &info);
  };
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  ExpectStatus(create("", 8, v1::L2), kInvalid, "name must not be empty");
  ExpectStatus(create(std::string(129, 'a'), 8, v1::L2), kInvalid, "at most 128");
  ExpectStatus(create("bad/name", 8, v1::L2), kInvalid, "may only contain");
  ExpectStatus(create("_x", 8, v1::L2), kInvalid, "start with a letter or digit");
  ExpectStatus(create("x", 0, v1::L2), kInvalid, "dim must be in 1..65536");
  ExpectStatus(create("x", 65537, v1::L2), kInvalid, "dim must be in 1..65536");
  ExpectStatus(create("x", 8, v1::METRIC_UNSPECIFIED), kInvalid, "metric");
  ExpectStatus(create("x", 8, static_cast<v1::Metric>(42)), kInvalid, "metric");
  ExpectStatus(create("x", 8, v1::L2, {4, 4}), kInvalid, "nesting_dims");
  ExpectStatus(create("x", 8, v1::L2, {4, 16}), kInvalid, "nesting_dims");
  ExpectStatus(create("c", 8, v1::L2), grpc::StatusCode::ALREADY_EXISTS, "'c'");
  auto create_copies = [&](uint32_t replicas) {
    v1::CreateCollectionRequest request;
    request.set_name("r");
    request.set_dim(8);
    request.set_metric(v1::L2);
    request.set_replicas(replicas);
    v1::CollectionInfo info;
    grpc::ClientContext context;
    return stub_->CreateCollection(&context, request, &info);
  };
  if (GetParam() == Topology::kStandalone) {
    ExpectStatus(create_copies(3), kInvalid, "replication needs cluster mode");
  } else {  // one data node
    ExpectStatus(create_copies(9), kInvalid, "replicas must be in 1..5, got 9");
    ExpectStatus(create_copies(3), grpc::StatusCode::FAILED_PRECONDITION,
                 "3 replicas need as many live data nodes, 1 are live");
  }

  ASSERT_TRUE(create("x", 100, v1::COSINE).ok());
  v1::ListCollectionsResponse list;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListCollections(&context, {}, &list).ok());
  ASSERT_EQ(list.collections_size(), 2);  // nothing half-created by the rejected requests
  EXPECT_THAT(list.collections(1).nesting_dims(), ::testing::ElementsAre(8, 16, 32, 64, 100));
}

TEST_P(BadInputTest, DescribeAndDropUnknown) {
  v1::DescribeCollectionRequest describe;
  describe.set_name("nope");
  v1::CollectionInfo info;
  grpc::ClientContext c1;
  ExpectStatus(stub_->DescribeCollection(&c1, describe, &info), grpc::StatusCode::NOT_FOUND,
               "'nope' does not exist");
  v1::DropCollectionRequest drop;
  drop.set_name("nope");
  v1::DropCollectionResponse dropped;
  grpc::ClientContext c2;
  ExpectStatus(stub_->DropCollection(&c2, drop, &dropped), grpc::StatusCode::NOT_FOUND, "nope");
  drop.set_name("");
  grpc::ClientContext c3;
  ExpectStatus(stub_->DropCollection(&c3, drop, &dropped), grpc::StatusCode::INVALID_ARGUMENT,
               "name");
}

// Sends each string as one message's raw bytes on one Upsert stream; returns the stream's status
// and, when it is OK, the response's count in `upserted`.
grpc::Status UpsertRawMessages(int port, const std::vector<std::string>& messages,
                               uint64_t* upserted = nullptr) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  const grpc::internal::RpcMethod method("/adanns.v1.Adanns/Upsert",
                                         grpc::internal::RpcMethod::CLIENT_STREAMING);
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel.get(), method, &context,
                                                                    &response));
  for (const std::string& bytes : messages) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    if (!writer->Write(buffer)) break;  // the server ended the stream early
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  v1::UpsertResponse parsed;
  if (status.ok() && upserted != nullptr &&
      grpc::SerializationTraits<v1::UpsertResponse>::Deserialize(&response, &parsed).ok()) {
    *upserted = parsed.upserted();
  }
  return status;
}

TEST_P(BadInputTest, AnUnparsableMessageInsideAStreamFailsTheCallNamingIt) {
  const std::string first = MakeMessage("c", 100, 20).SerializeAsString();
  const std::string second = MakeMessage("c", 200, 20).SerializeAsString();
  const std::string corrupt = second.substr(0, second.size() / 2);  // cut mid-field
  for (const std::string& garbage : {corrupt, std::string("\xff\xff\xff\xff")}) {
    ExpectStatus(UpsertRawMessages(port(), {first, garbage, second}),
                 grpc::StatusCode::INVALID_ARGUMENT,
                 "message 1 of the stream rejected: it is not a valid adanns.v1.UpsertRequest");
  }
  // The message before the bad one stays committed (as documented), nothing after it is.
  EXPECT_EQ(VectorCount("c"), 30u);
  uint64_t upserted = 0;
  ASSERT_TRUE(UpsertRawMessages(port(), {first, second}, &upserted).ok());
  EXPECT_EQ(upserted, 40u);
  EXPECT_EQ(VectorCount("c"), 50u);
  // A first message that does not parse commits nothing.
  ExpectStatus(UpsertRawMessages(port(), {std::string("\x0a\x05"
                                                      "ab")}),
               grpc::StatusCode::INVALID_ARGUMENT, "message 0 of the stream rejected");
  EXPECT_EQ(VectorCount("c"), 50u);
}

TEST_P(BadInputTest, UpsertRejectsBadMessagesWholly) {
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  ExpectStatus(UpsertMessages({MakeMessage("nope", 0, 1)}), grpc::StatusCode::NOT_FOUND, "nope");
  ExpectStatus(UpsertMessages({MakeMessage("c", 100, 3, kDim + 1)}), kInvalid, "has 9 values");
  ExpectStatus(UpsertMessages({MakeMessage("c", 100, 0)}), kInvalid, "must not be empty");

  v1::UpsertRequest nan = MakeMessage("c", 100, 5);
  nan.mutable_vectors(4)->set_values(3, std::nanf(""));
  ExpectStatus(UpsertMessages({nan}), kInvalid, "non-finite");
  v1::UpsertRequest inf = MakeMessage("c", 100, 5);
  inf.mutable_vectors(0)->set_values(0, std::numeric_limits<float>::infinity());
  ExpectStatus(UpsertMessages({inf}), kInvalid, "non-finite");
  EXPECT_EQ(VectorCount("c"), 10u);  // none of the valid vectors of those messages landed
}

TEST_P(BadInputTest, StreamCommitsExactlyTheMessagesBeforeTheBadOne) {
  v1::UpsertRequest bad = MakeMessage("c", 300, 4);
  bad.mutable_vectors(2)->mutable_values()->RemoveLast();
  const grpc::Status status = UpsertMessages(
      {MakeMessage("c", 100, 50), MakeMessage("c", 200, 50), bad, MakeMessage("c", 400, 50)});
  ExpectStatus(status, grpc::StatusCode::INVALID_ARGUMENT,
               "100 vectors from 2 earlier messages were committed");
  EXPECT_EQ(VectorCount("c"), 110u);

  v1::GetRequest get;
  get.set_collection("c");
  for (uint64_t id : {100, 149, 200, 249, 300, 301, 400}) get.add_ids(id);
  v1::GetResponse got;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Get(&context, get, &got).ok());
  EXPECT_EQ(got.vectors_size(), 4);
  EXPECT_THAT(got.missing_ids(), ::testing::ElementsAre(300, 301, 400));

  ExpectStatus(UpsertMessages({MakeMessage("c", 500, 1), MakeMessage("other", 0, 1)}),
               grpc::StatusCode::INVALID_ARGUMENT, "same collection");
  EXPECT_EQ(VectorCount("c"), 111u);
}

TEST_P(BadInputTest, GetAndDelete) {
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  v1::GetRequest get;
  get.set_collection("c");
  v1::GetResponse got;
  grpc::ClientContext c1;
  ExpectStatus(stub_->Get(&c1, get, &got), kInvalid, "ids must not be empty");
  for (int i = 0; i < 100001; ++i) get.add_ids(i);
  grpc::ClientContext c2;
  ExpectStatus(stub_->Get(&c2, get, &got), kInvalid, "at most 100000");
  get.clear_ids();
  get.add_ids(1);
  get.set_collection("nope");
  grpc::ClientContext c3;
  ExpectStatus(stub_->Get(&c3, get, &got), grpc::StatusCode::NOT_FOUND, "nope");

  v1::DeleteRequest del;
  del.set_collection("c");
  v1::DeleteResponse deleted;
  grpc::ClientContext c4;
  ExpectStatus(stub_->Delete(&c4, del, &deleted), kInvalid, "ids must not be empty");
  del.add_ids(3);
  del.add_ids(3);
  del.add_ids(12345);
  grpc::ClientContext c5;
  ASSERT_TRUE(stub_->Delete(&c5, del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1u);  // duplicates and unknown ids are not counted
  EXPECT_EQ(VectorCount("c"), 9u);
}

TEST_P(BadInputTest, Search) {
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  ExpectStatus(Search(Query(kDim, 0)), kInvalid, "k must be in 1..10000");
  ExpectStatus(Search(Query(kDim, 10001)), kInvalid, "k must be in 1..10000");
  ExpectStatus(Search(Query(0)), kInvalid, "query has 0 values");
  ExpectStatus(Search(Query(kDim + 1)), kInvalid, "query has 9 values");
  v1::SearchRequest nan = Query(kDim);
  nan.set_query(2, std::nanf(""));
  ExpectStatus(Search(nan), kInvalid, "non-finite");
  v1::SearchRequest unknown = Query(kDim);
  unknown.set_collection("nope");
  ExpectStatus(Search(unknown), grpc::StatusCode::NOT_FOUND, "nope");

  // A prefix query needs a plan that reads no more than the prefix.
  ExpectStatus(Search(Query(4)), kInvalid, "query has 4 dims but the plan needs 8");
  v1::SearchRequest prefix = Query(4);
  prefix.mutable_budget()->mutable_plan()->set_search_dims(4);
  v1::SearchResponse response;
  ASSERT_TRUE(Search(prefix, &response).ok());
  EXPECT_EQ(response.hits_size(), 3);
  EXPECT_EQ(response.plan().search_dims(), 4u);
  EXPECT_DOUBLE_EQ(response.cost().mflops(), 10 * 4 / 1e6);
  prefix.mutable_budget()->mutable_plan()->set_rerank_dims(8);
  ExpectStatus(Search(prefix), kInvalid, "the plan needs 8");

  v1::SearchRequest plan = Query(kDim);
  plan.mutable_budget()->mutable_plan()->set_search_dims(9);
  ExpectStatus(Search(plan), kInvalid, "search_dims");
  plan.mutable_budget()->mutable_plan()->set_search_dims(4);
  plan.mutable_budget()->mutable_plan()->set_rerank_candidates(2);
  ExpectStatus(Search(plan), kInvalid, "rerank_candidates");
  plan.mutable_budget()->mutable_plan()->clear_rerank_candidates();
  plan.mutable_budget()->mutable_plan()->set_nprobe(3);
  ExpectStatus(Search(plan), kInvalid, "nprobe");
  plan.mutable_budget()->mutable_plan()->clear_nprobe();
  plan.mutable_budget()->mutable_plan()->set_index("hnsw");
  ExpectStatus(Search(plan), grpc::StatusCode::NOT_FOUND, "'hnsw' is not ready");
  plan.mutable_budget()->mutable_plan()->set_index("diskann");
  ExpectStatus(Search(plan), grpc::StatusCode::NOT_FOUND, "'diskann' does not exist");

  v1::SearchRequest recall = Query(kDim);
  recall.mutable_budget()->set_target_recall(0.9f);
  ExpectStatus(Search(recall), grpc::StatusCode::FAILED_PRECONDITION, "calibrated");
  recall.mutable_budget()->set_target_recall(1.5f);
  ExpectStatus(Search(recall), kInvalid, "target_recall");
  v1::SearchRequest mflops = Query(kDim);
  mflops.mutable_budget()->set_max_mflops(1e-9);
  ExpectStatus(Search(mflops), grpc::StatusCode::OUT_OF_RANGE, "smallest workable budget");
  mflops.mutable_budget()->set_max_mflops(std::nan(""));
  ExpectStatus(Search(mflops), kInvalid, "max_mflops");

  ASSERT_TRUE(Search(Query(kDim), &response).ok());  // still serving
  EXPECT_EQ(response.hits_size(), 3);
}

TEST_P(BadInputTest, SearchBatch) {
  auto batch = [&](uint32_t query_dims, size_t floats, uint32_t k) {
    v1::SearchBatchRequest request;
    request.set_collection("c");
    request.set_query_dims(query_dims);
    for (size_t i = 0; i < floats; ++i) request.add_queries(0.5f);
    request.set_k(k);
    v1::SearchBatchResponse response;
    grpc::ClientContext context;
    return stub_->SearchBatch(&context, request, &response);
  };
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  ExpectStatus(batch(0, 8, 1), kInvalid, "query_dims must be in 1..8");
  ExpectStatus(batch(9, 9, 1), kInvalid, "query_dims must be in 1..8");
  ExpectStatus(batch(8, 12, 1), kInvalid, "multiple of query_dims");
  ExpectStatus(batch(8, 0, 1), kInvalid, "multiple of query_dims");
  ExpectStatus(batch(1, 10001, 1), kInvalid, "at most 10000");
  ExpectStatus(batch(1, 1000, 1001), kInvalid, "split the batch");
  ExpectStatus(batch(8, 16, 0), kInvalid, "k must be");
  EXPECT_TRUE(batch(8, 16, 2).ok());
}

TEST_P(BadInputTest, BuildAndDropIndex) {
  auto build = [&](const std::string& collection, uint32_t nlist, uint32_t coarse_dims,
                   uint32_t iterations = 0) {
    v1::BuildIndexRequest request;
    request.set_collection(collection);
    request.mutable_ivf()->set_nlist(nlist);
    request.mutable_ivf()->set_coarse_dims(coarse_dims);
    request.mutable_ivf()->set_kmeans_iterations(iterations);
    v1::BuildIndexResponse info;
    grpc::ClientContext context;
    return stub_->BuildIndex(&context, request, &info);
  };
  auto drop = [&](const std::string& collection, const std::string& name) {
    v1::DropIndexRequest request;
    request.set_collection(collection);
    request.set_name(name);
    v1::DropIndexResponse response;
    grpc::ClientContext context;
    return stub_->DropIndex(&context, request, &response);
  };
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  ExpectStatus(build("nope", 0, 0), grpc::StatusCode::NOT_FOUND, "nope");
  // Through a router each shard trains its own lists: the bound is the smallest shard's.
  ExpectStatus(build("c", 11, 0), kInvalid,
               GetParam() == Topology::kStandalone ? "exceeds the collection's vectors (10)"
                                                   : "ivf.nlist (11) exceeds the vectors of shard");
  ExpectStatus(build("c", 2, kDim + 1), kInvalid, "coarse_dims");
  ExpectStatus(build("c", 2, 0, 5000), kInvalid, "kmeans_iterations");
  ASSERT_EQ(Create("empty", 4, v1::L2), grpc::StatusCode::OK);
  ExpectStatus(build("empty", 0, 0), grpc::StatusCode::FAILED_PRECONDITION, "empty");
  ExpectStatus(drop("c", "ivf"), grpc::StatusCode::NOT_FOUND, "no index named 'ivf'");
  ExpectStatus(drop("c", "hnsw"), grpc::StatusCode::NOT_FOUND, "no index named 'hnsw'");
  ExpectStatus(drop("c", "flat"), kInvalid, "cannot be dropped");

  auto build_graph = [&](const std::string& collection, uint32_t graph_dims, uint32_t m,
                         uint32_t ef_construction) {
    v1::BuildIndexRequest request;
    request.set_collection(collection);
    request.mutable_hnsw()->set_graph_dims(graph_dims);
    request.mutable_hnsw()->set_m(m);
    request.mutable_hnsw()->set_ef_construction(ef_construction);
    v1::BuildIndexResponse info;
    grpc::ClientContext context;
    return stub_->BuildIndex(&context, request, &info);
  };
  ExpectStatus(build_graph("c", kDim + 1, 0, 0), kInvalid, "hnsw.graph_dims");
  ExpectStatus(build_graph("c", 0, 1, 0), kInvalid, "hnsw.m");
  ExpectStatus(build_graph("c", 0, 0, 200000), kInvalid, "hnsw.ef_construction");
  ExpectStatus(build_graph("empty", 0, 0, 0), grpc::StatusCode::FAILED_PRECONDITION, "empty");

  // Nothing was built by the rejected requests: "ivf" plans are refused, "" is exact search.
  v1::SearchRequest ivf = Query(kDim);
  ivf.mutable_budget()->mutable_plan()->set_index("ivf");
  ExpectStatus(Search(ivf), grpc::StatusCode::NOT_FOUND, "not ready");
  v1::SearchResponse response;
  ASSERT_TRUE(Search(Query(kDim), &response).ok());
  EXPECT_EQ(response.plan().index(), "flat");
}

}  // namespace
}  // namespace adanns::testing
