// Memory tiers served end to end on Fashion-MNIST-PCA: a collection keeping only the first 64 of
// 784 dims in memory scans that prefix and re-ranks from RocksDB. Exact plans give the exact
// neighbours and scores; the automatic plan is the funnel with its fetches in the cost; scans and
// prefix-copying builds above the resident prefix are refused; writes, deletes, an IVF build with
// its held-out calibration, and a restart keep the tiers consistent; memory holds the prefixes
// only; an OPQ codebook longer than the prefix is built, loaded and fed from storage.
#include <cmath>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/fmnist_server_fixture.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kResident = 64;
constexpr uint64_t kBase = 60000;

class TieredServingTest : public FmnistServerTest {
 protected:
  static void SetUpTestSuite() {
    // Tiered calibration is covered by TieredCalibrationTest (tests/server) on a smaller table.
    StartWithData({"--build_threads=2", "--auto_calibrate=false"},
                  "--resident-dims " + std::to_string(kResident));
  }

  static grpc::Status SearchWith(const float* query, const v1::Budget& budget,
                                 v1::SearchResponse* response) {
    v1::SearchRequest request;
    request.set_collection("fmnist");
    request.mutable_query()->Add(query, query + kDim);
    request.set_k(kK);
    *request.mutable_budget() = budget;
    grpc::ClientContext context;
    return server_->NewStub()->Search(&context, request, response);
  }

  static void ExpectSameIds(const v1::SearchBatchResponse& before,
                            const v1::SearchBatchResponse& after) {
    ASSERT_EQ(after.results_size(), before.results_size());
    for (int q = 0; q < after.results_size(); ++q) {
      ASSERT_EQ(after.results(q).hits_size(), before.results(q).hits_size());
      for (int i = 0; i < after.results(q).hits_size(); ++i) {
        EXPECT_EQ(after.results(q).hits(i).id(), before.results(q).hits(i).id());
      }
    }
  }

  // Squared L2 at the full dim, in double.
  static double ExactL2(const float* a, const float* b) {
    double sum = 0;
    for (uint32_t j = 0; j < kDim; ++j) sum += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
    return sum;
  }
};

TEST_F(TieredServingTest, HoldsThePrefixAndDescribesIt) {
  const v1::CollectionInfo info = Describe();
  EXPECT_EQ(info.storage().resident_dims(), kResident);
  EXPECT_EQ(info.vector_memory_bytes(), kBase * kResident * sizeof(float));
  ASSERT_GE(info.memory_size(), 1);
  EXPECT_EQ(info.memory(0).name(), "table");
  EXPECT_DOUBLE_EQ(info.memory(0).bytes_per_vector(), kResident * sizeof(float));
  EXPECT_GT(info.block_cache().capacity_bytes(), 0u);
  // The CLI shows the tiers.
  const std::string described = Cli("collection describe fmnist");
  EXPECT_NE(described.find("first 64 of 784 dims"), std::string::npos) << described;
}

TEST_F(TieredServingTest, ExactPlansGiveTheExactNeighboursAndScores) {
  // Every row re-ranked at the full dim from storage: exact search.
  v1::Budget exact;
  exact.mutable_plan()->set_index("flat");
  exact.mutable_plan()->set_search_dims(kResident);
  exact.mutable_plan()->set_rerank_candidates(kBase);
  for (size_t q = 0; q < 5; ++q) {
    v1::SearchResponse response;
    ASSERT_TRUE(SearchWith(queries_->row(q), exact, &response).ok());
    EXPECT_EQ(response.cost().vectors_fetched(), kBase);
    ASSERT_EQ(response.hits_size(), int(kK));
    for (int i = 0; i < response.hits_size(); ++i) {
      const v1::Hit& hit = response.hits(i);
      EXPECT_EQ(hit.id(), uint64_t(truth_->row(q)[i])) << "query " << q << " rank " << i;
      const double expected = ExactL2(queries_->row(q), base_->row(hit.id()));
      EXPECT_NEAR(hit.score(), expected, 1e-4 * expected) << "query " << q << " rank " << i;
    }
  }
}

TEST_F(TieredServingTest, TheAutomaticPlanIsTheFunnelWithItsFetchesInTheCost) {
  const v1::SearchBatchResponse response = SearchAll(nullptr);
  ASSERT_GT(response.results_size(), 0);
  const v1::SearchResponse& first = response.results(0);
  EXPECT_EQ(first.plan().index(), "flat");
  EXPECT_EQ(first.plan().search_dims(), kResident);
  EXPECT_EQ(first.plan().rerank_dims(), kDim);
  EXPECT_EQ(first.cost().vectors_fetched(), first.plan().rerank_candidates());
  const double recall = Recall(response);
  std::cout << "[tiered] funnel d=64 R=" << first.plan().rerank_candidates()
            << " recall@10=" << recall << "\n";
  EXPECT_GE(recall, 0.95);
}

TEST_F(TieredServingTest, PlansAndBuildsAboveTheResidentPrefixAreRefused) {
  v1::SearchResponse response;
  v1::Budget scan_above;
  scan_above.mutable_plan()->set_index("flat");
  scan_above.mutable_plan()->set_search_dims(128);
  const grpc::Status scan = SearchWith(queries_->row(0), scan_above, &response);
  EXPECT_EQ(scan.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(scan.error_message().find("resident_dims = 64"), std::string::npos)
      << scan.error_message();

  v1::BuildIndexRequest build;
  build.set_collection("fmnist");
  build.mutable_ivf()->set_search_dims(128);
  v1::BuildIndexResponse started;
  grpc::ClientContext context;
  const grpc::Status refused = server_->NewStub()->BuildIndex(&context, build, &started);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("resident_dims = 64"), std::string::npos)
      << refused.error_message();

  // max_dims above the resident prefix: the funnel to max_dims, not a scan at it.
  v1::Budget bounded;
  bounded.set_max_dims(200);
  ASSERT_TRUE(SearchWith(queries_->row(0), bounded, &response).ok());
  EXPECT_EQ(response.plan().search_dims(), kResident);
  EXPECT_EQ(response.plan().rerank_dims(), 200u);

  // Bad storage options at creation.
  for (const auto& [resident, precision, code] :
       std::vector<std::tuple<uint32_t, v1::Precision, grpc::StatusCode>>{
           {785, v1::PRECISION_FP32, grpc::StatusCode::INVALID_ARGUMENT},
           {64, static_cast<v1::Precision>(-1), grpc::StatusCode::INVALID_ARGUMENT},
           {64, static_cast<v1::Precision>(9), grpc::StatusCode::INVALID_ARGUMENT}}) {
    v1::CreateCollectionRequest create;
    create.set_name("bad");
    create.set_dim(kDim);
    create.set_metric(v1::L2);
    create.mutable_storage()->set_resident_dims(resident);
    create.mutable_storage()->set_resident_precision(precision);
    v1::CollectionInfo info;
    grpc::ClientContext create_context;
    const grpc::Status status =
        server_->NewStub()->CreateCollection(&create_context, create, &info);
    EXPECT_EQ(status.error_code(), code) << status.error_message();
  }
}

TEST_F(TieredServingTest, WritesBuildsAndRestartsKeepTheTiersConsistent) {
  // A new vector is found at once, at distance 0, by the funnel (read back from storage).
  ASSERT_TRUE(Upsert(900001, queries_->row(7)).ok());
  v1::SearchResponse response;
  ASSERT_TRUE(SearchWith(queries_->row(7), v1::Budget(), &response).ok());
  ASSERT_GT(response.hits_size(), 0);
  EXPECT_EQ(response.hits(0).id(), 900001u);
  EXPECT_EQ(response.hits(0).score(), 0.0f);
  // Get returns the exact bytes sent.
  v1::GetRequest get;
  get.set_collection("fmnist");
  get.add_ids(900001);
  get.add_ids(123);
  get.add_ids(999999999);
  v1::GetResponse got;
  grpc::ClientContext get_context;
  ASSERT_TRUE(server_->NewStub()->Get(&get_context, get, &got).ok());
  ASSERT_EQ(got.vectors_size(), 2);
  EXPECT_TRUE(
      std::equal(got.vectors(0).values().begin(), got.vectors(0).values().end(), queries_->row(7)));
  EXPECT_TRUE(
      std::equal(got.vectors(1).values().begin(), got.vectors(1).values().end(), base_->row(123)));
  ASSERT_EQ(got.missing_ids_size(), 1);

  // An IVF on the resident prefix, re-ranking from storage.
  v1::BuildIndexResponse started;
  ASSERT_TRUE(StartIvfBuild(&started).ok());
  ASSERT_EQ(WaitForBuild(), "ready");
  const v1::SearchBatchResponse ivf = SearchIvf(16, 100);
  const double ivf_recall = Recall(ivf);
  std::cout << "[tiered] ivf d_c=32 d_s=64 nprobe=16 R=100 recall@10=" << ivf_recall
            << " fetched=" << ivf.results(0).cost().vectors_fetched() << "\n";
  EXPECT_GE(ivf_recall, 0.98);
  EXPECT_GE(ivf.results(0).cost().vectors_fetched(), 100u);

  // Deleted: never returned, and Get reports it missing.
  v1::DeleteRequest del;
  del.set_collection("fmnist");
  del.add_ids(900001);
  v1::DeleteResponse deleted;
  grpc::ClientContext del_context;
  ASSERT_TRUE(server_->NewStub()->Delete(&del_context, del, &deleted).ok());
  ASSERT_TRUE(SearchWith(queries_->row(7), v1::Budget(), &response).ok());
  for (const v1::Hit& hit : response.hits()) EXPECT_NE(hit.id(), 900001u);

  // Restart: the prefixes are loaded again (same memory, same results), nothing else is.
  const v1::SearchBatchResponse before = SearchAll(nullptr);
  ASSERT_EQ(server_->Stop(), 0);
  delete server_;
  server_ = new ServerProcess(dir_->path() + "/data", {"--auto_calibrate=false"});
  const v1::CollectionInfo info = Describe();
  EXPECT_EQ(info.vector_memory_bytes(), kBase * kResident * sizeof(float));
  const uint64_t rss = ServerRss();
  std::cout << "[tiered] RSS after restart: " << rss / 1e6 << " MB (bound "
            << MemoryBound(info) / 1e6 << " MB; full vectors: " << kBase * kDim * 4 / 1e6
            << " MB)\n";
  EXPECT_LT(rss, kBase * kDim * sizeof(float));  // less than the full vectors alone
  EXPECT_LE(rss, MemoryBound(info));
  const v1::SearchBatchResponse after = SearchAll(nullptr);
  ExpectSameIds(before, after);
}

TEST_F(TieredServingTest, ACodebookAboveTheResidentPrefixIsBuiltFromStorage) {
  // 128 dims of codes over a 64-dim resident prefix: training, encoding and the load read the
  // prefix from RocksDB; only the codes (16 bytes a vector) join the memory.
  v1::BuildIndexRequest request;
  request.set_collection("fmnist");
  v1::CodebookSpec* spec = request.mutable_opq()->add_codebooks();
  spec->set_prefix_dims(128);
  spec->set_m(16);
  request.mutable_opq()->set_opq_iterations(4);
  request.mutable_opq()->set_training_sample(10000);
  v1::BuildIndexResponse started;
  grpc::ClientContext context;
  ASSERT_TRUE(server_->NewStub()->BuildIndex(&context, request, &started).ok());
  ASSERT_EQ(WaitForBuild("opq128x16"), "ready");
  const v1::IndexInfo* codebook = FindIndex(Describe(), "opq128x16");
  ASSERT_NE(codebook, nullptr);
  EXPECT_LT(codebook->memory_bytes(), kBase * 128);  // codes, not a 128-dim prefix

  v1::Plan plan;
  plan.set_index("opq");
  plan.set_codebook("opq128x16");
  plan.set_rerank_candidates(200);
  const v1::SearchBatchResponse reranked = SearchAll(&plan);
  std::cout << "[tiered] opq128x16 over a 64-dim resident prefix, R=200 recall@10="
            << Recall(reranked) << "\n";
  // As on a whole collection (opq_test: 0.9947 with the same parameters).
  EXPECT_GE(Recall(reranked), 0.97);
  EXPECT_GE(reranked.results(0).cost().vectors_fetched(), 200u);

  // A write after the build is encoded from its vector read back from storage: found at once by
  // the codebook's plan once absorbed, and exactly (distance 0) by the re-rank.
  ASSERT_TRUE(Upsert(900002, queries_->row(3)).ok());
  const v1::SearchResponse found = SearchOne(queries_->row(3), plan);
  ASSERT_GT(found.hits_size(), 0);
  EXPECT_EQ(found.hits(0).id(), 900002u);
  EXPECT_EQ(found.hits(0).score(), 0.0f);

  // A restart checks the stored codes against the stored prefixes and keeps them (same answers);
  // the vector written after the build is encoded from storage then if the blob predates it.
  const v1::SearchBatchResponse before = SearchAll(&plan);
  ASSERT_EQ(server_->Stop(), 0);
  delete server_;
  server_ = new ServerProcess(dir_->path() + "/data", {"--auto_calibrate=false"});
  ASSERT_EQ(WaitForBuild("opq128x16"), "ready");
  const v1::SearchBatchResponse after = SearchAll(&plan);
  ExpectSameIds(before, after);
  const v1::SearchResponse still = SearchOne(queries_->row(3), plan);
  ASSERT_GT(still.hits_size(), 0);
  EXPECT_EQ(still.hits(0).id(), 900002u);
}

}  // namespace
}  // namespace adanns::testing
