// AdANNS-OPQ served end to end on Fashion-MNIST-PCA: codebooks built over gRPC next to an IVF,
// "opq" and "ivf_opq" plans against the exact ground truth, writes after the build, a restart that
// loads the codes (same results, no retraining), dropping one codebook, and refused specs.
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/fmnist_server_fixture.h"

namespace adanns::testing {
namespace {

class OpqServingTest : public FmnistServerTest {
 protected:
  static void SetUpTestSuite() { StartWithData({"--build_threads=2", "--auto_calibrate=false"}); }

  static grpc::Status Build(const v1::BuildIndexRequest& request, v1::BuildIndexResponse* out) {
    grpc::ClientContext context;
    return server_->NewStub()->BuildIndex(&context, request, out);
  }

  static v1::Plan CodebookPlan(const std::string& index, const std::string& codebook,
                               uint32_t rerank_candidates) {
    v1::Plan plan;
    plan.set_index(index);
    plan.set_codebook(codebook);
    plan.set_rerank_candidates(rerank_candidates);
    return plan;
  }

  static std::vector<uint64_t> Ids(const v1::SearchBatchResponse& response) {
    std::vector<uint64_t> ids;
    for (const auto& result : response.results()) {
      for (const auto& hit : result.hits()) ids.push_back(hit.id());
    }
    return ids;
  }
};

TEST_F(OpqServingTest, CodebooksNextToAnIvfServeRestartAndDrop) {
  v1::BuildIndexRequest request;
  request.set_collection("fmnist");
  request.mutable_ivf()->set_nlist(256);
  request.mutable_ivf()->set_coarse_dims(32);
  request.mutable_ivf()->set_search_dims(32);
  v1::OpqParams* opq = request.mutable_opq();
  for (const auto& [prefix, m] : {std::pair{128u, 16u}, std::pair{64u, 8u}}) {
    v1::CodebookSpec* spec = opq->add_codebooks();
    spec->set_prefix_dims(prefix);
    spec->set_m(m);
  }
  opq->set_opq_iterations(4);
  opq->set_training_sample(10000);
  v1::BuildIndexResponse started;
  ASSERT_TRUE(Build(request, &started).ok());
  ASSERT_EQ(started.indexes_size(), 3);
  EXPECT_EQ(started.indexes(0).name(), "ivf");
  EXPECT_EQ(started.indexes(1).name(), "opq128x16");
  EXPECT_EQ(started.indexes(1).kind(), "opq");
  EXPECT_EQ(started.indexes(2).name(), "opq64x8");
  for (const char* name : {"ivf", "opq128x16", "opq64x8"}) {
    ASSERT_EQ(WaitForBuild(name), "ready") << name;
  }
  const v1::CollectionInfo info = Describe();
  const v1::IndexInfo* codebook = FindIndex(info, "opq128x16");
  ASSERT_NE(codebook, nullptr);
  EXPECT_EQ(codebook->params().at("prefix_dims"), 128);
  EXPECT_EQ(codebook->params().at("m"), 16);
  EXPECT_GE(codebook->memory_bytes(), 60000u * 16);

  // ADC alone, then re-ranked from the full vectors, then over the IVF's probed lists.
  const v1::Plan adc_plan = CodebookPlan("opq", "opq128x16", 0);
  const double adc = Recall(SearchAll(&adc_plan));
  const v1::Plan opq_plan = CodebookPlan("opq", "opq128x16", 200);
  const v1::SearchBatchResponse reranked = SearchAll(&opq_plan);
  v1::Plan ivf_opq = CodebookPlan("ivf_opq", "opq128x16", 200);
  ivf_opq.set_nprobe(16);
  const v1::SearchBatchResponse composite = SearchAll(&ivf_opq);
  std::cout << "[opq128x16] recall@10 ADC only " << adc << ", R=200 " << Recall(reranked)
            << ", ivf_opq nprobe=16 R=200 " << Recall(composite) << "\n";
  // Measured (300 queries, 10000 training vectors, 4 OPQ iterations): 0.497, 0.9947, 0.993.
  EXPECT_GE(adc, 0.45);
  EXPECT_GE(Recall(reranked), 0.97);
  EXPECT_GE(Recall(composite), 0.97);
  const v1::Plan& used = composite.results(0).plan();
  EXPECT_EQ(used.index(), "ivf_opq");
  EXPECT_EQ(used.codebook(), "opq128x16");
  EXPECT_EQ(used.coarse_dims(), 32u);
  EXPECT_EQ(used.search_dims(), 128u);
  EXPECT_EQ(used.rerank_dims(), kDim);
  EXPECT_LT(composite.results(0).cost().vectors_scanned(), 60000u / 4);

  // Two codebooks are ready: a codebook plan must name one.
  v1::SearchRequest unnamed;
  unnamed.set_collection("fmnist");
  unnamed.mutable_query()->Add(queries_->row(0), queries_->row(0) + kDim);
  unnamed.set_k(kK);
  unnamed.mutable_budget()->mutable_plan()->set_index("opq");
  v1::SearchResponse refused;
  grpc::ClientContext unnamed_context;
  EXPECT_EQ(server_->NewStub()->Search(&unnamed_context, unnamed, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // A write after the build is encoded at once.
  ASSERT_TRUE(Upsert(777777, queries_->row(4)).ok());
  EXPECT_EQ(SearchOne(queries_->row(4), opq_plan).hits(0).id(), 777777u);
  EXPECT_EQ(SearchOne(queries_->row(4), ivf_opq).hits(0).id(), 777777u);

  // Restart: codes are loaded, not retrained; the same answers.
  const v1::SearchBatchResponse before = SearchAll(&ivf_opq);
  ASSERT_EQ(server_->Stop(), 0);
  delete server_;
  server_ = new ServerProcess(dir_->path() + "/data", {"--auto_calibrate=false"});
  const v1::CollectionInfo reloaded = Describe();
  ASSERT_NE(FindIndex(reloaded, "opq128x16"), nullptr);
  EXPECT_EQ(FindIndex(reloaded, "opq128x16")->state(), "ready");
  EXPECT_EQ(Ids(SearchAll(&ivf_opq)), Ids(before));
  EXPECT_EQ(SearchOne(queries_->row(4), opq_plan).hits(0).id(), 777777u);

  // Drop one codebook: it is gone, the other still serves.
  v1::DropIndexRequest drop;
  drop.set_collection("fmnist");
  drop.set_name("opq64x8");
  v1::DropIndexResponse dropped;
  grpc::ClientContext drop_context;
  ASSERT_TRUE(server_->NewStub()->DropIndex(&drop_context, drop, &dropped).ok());
  EXPECT_EQ(FindIndex(Describe(), "opq64x8"), nullptr);
  v1::SearchRequest gone = unnamed;
  gone.mutable_budget()->mutable_plan()->set_codebook("opq64x8");
  grpc::ClientContext gone_context;
  EXPECT_EQ(server_->NewStub()->Search(&gone_context, gone, &refused).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // With one codebook left, it is the default.
  grpc::ClientContext default_context;
  ASSERT_TRUE(server_->NewStub()->Search(&default_context, unnamed, &refused).ok());
  EXPECT_EQ(refused.plan().codebook(), "opq128x16");
}

TEST_F(OpqServingTest, SpecsTheCollectionCannotTakeStartNothing) {
  const size_t indexes_before = Describe().indexes_size();
  for (const auto& [prefix, m] :
       {std::pair{100u, 16u}, std::pair{1024u, 16u}, std::pair{128u, 12u}, std::pair{128u, 0u}}) {
    v1::BuildIndexRequest request;
    request.set_collection("fmnist");
    request.mutable_ivf();  // a valid IVF next to the bad codebook must not start either
    v1::CodebookSpec* spec = request.mutable_opq()->add_codebooks();
    spec->set_prefix_dims(prefix);
    spec->set_m(m);
    v1::BuildIndexResponse response;
    const grpc::Status status = Build(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << prefix << "x" << m;
    EXPECT_NE(status.error_message().find("codebook opq"), std::string::npos)
        << status.error_message();
  }
  v1::BuildIndexRequest twice;
  twice.set_collection("fmnist");
  for (int i = 0; i < 2; ++i) {
    v1::CodebookSpec* spec = twice.mutable_opq()->add_codebooks();
    spec->set_prefix_dims(64);
    spec->set_m(8);
  }
  v1::BuildIndexResponse response;
  EXPECT_EQ(Build(twice, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(static_cast<size_t>(Describe().indexes_size()), indexes_before);
}

TEST_F(OpqServingTest, CliBuildsSearchesAndDropsACodebook) {
  const std::string built = Cli(
      "index build --collection fmnist --opq 32x8 --opq-iterations 2 --opq-training-sample 4000");
  EXPECT_THAT(built, ::testing::HasSubstr("opq32x8"));
  EXPECT_THAT(built, ::testing::HasSubstr("state=ready"));
  EXPECT_THAT(built, ::testing::Not(::testing::HasSubstr("ivf")));  // codebooks only
  std::ostringstream query;
  for (uint32_t j = 0; j < kDim; ++j) query << (j ? "," : "") << queries_->row(0)[j];
  const std::string found =
      Cli("search --collection fmnist --k 3 --index opq --codebook opq32x8 --json --query " +
          query.str());
  EXPECT_THAT(found, ::testing::HasSubstr(std::to_string(truth_->row(0)[0])));
  EXPECT_THAT(found, ::testing::HasSubstr("\"codebook\":\"opq32x8\""));
  EXPECT_THAT(Cli("index drop --collection fmnist opq32x8"),
              ::testing::HasSubstr("dropped index opq32x8"));
  std::string output;
  EXPECT_NE(RunCommand(CliBinary() + " --server " + server_->target() +
                           " index build --collection fmnist --opq 100x16 2>&1",
                       &output),
            0);
  EXPECT_THAT(output, ::testing::HasSubstr("must be a multiple of M"));
}

}  // namespace
}  // namespace adanns::testing
