// Compute budgets served end to end on Fashion-MNIST-PCA: an IVF built over gRPC, calibrated on
// sampled stored vectors, then target-recall and max-MFLOPs budgets checked on the 300 held-out
// test queries against the exact ground truth; max_dims honoured; the frontier persisted across a
// restart; calibration on caller-given queries; the CLI's frontier table and plot.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/fmnist_server_fixture.h"

namespace adanns::testing {
namespace {

class BudgetServingTest : public FmnistServerTest {
 protected:
  static void SetUpTestSuite() {
    StartWithData({"--build_threads=2", "--auto_calibrate=false"});
    v1::BuildIndexResponse started;
    ASSERT_TRUE(StartIvfBuild(&started).ok());
    ASSERT_EQ(WaitForBuild(), "ready");
  }

  static grpc::Status Calibrate(const v1::CalibrateRequest& request) {
    v1::CalibrationInfo info;
    grpc::ClientContext context;
    return server_->NewStub()->Calibrate(&context, request, &info);
  }

  // Polls (bounded) until the calibration leaves "calibrating".
  static v1::CalibrationInfo WaitForCalibration() {
    for (int attempt = 0; attempt < 1800; ++attempt) {
      const v1::CollectionInfo info = Describe();
      if (info.calibration().state() != "calibrating") return info.calibration();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "calibration did not finish in 180 s";
    return {};
  }

  static grpc::Status SearchWith(const v1::Budget& budget, v1::SearchBatchResponse* response) {
    v1::SearchBatchRequest request;
    request.set_collection("fmnist");
    request.set_query_dims(kDim);
    request.mutable_queries()->Add(queries_->values.begin(), queries_->values.end());
    request.set_k(kK);
    *request.mutable_budget() = budget;
    grpc::ClientContext context;
    return server_->NewStub()->SearchBatch(&context, request, response);
  }

  // Calibrates k = 10 on 100 sampled stored vectors (once per suite).
  static void EnsureCalibrated() {
    if (Describe().calibration().state() == "ready") return;
    v1::CalibrateRequest request;
    request.set_collection("fmnist");
    request.set_queries(100);
    request.add_ks(kK);
    ASSERT_TRUE(Calibrate(request).ok());
    ASSERT_EQ(WaitForCalibration().state(), "ready");
  }
};

TEST_F(BudgetServingTest, TargetRecallIsRefusedUntilCalibrated) {
  if (Describe().calibration().state() == "ready") GTEST_SKIP() << "calibrated by another test";
  v1::Budget budget;
  budget.set_target_recall(0.9f);
  v1::SearchBatchResponse response;
  EXPECT_EQ(SearchWith(budget, &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Describe().calibration().state(), "none");
}

TEST_F(BudgetServingTest, FrontierIsMonotoneAndTopsAtExact) {
  EnsureCalibrated();
  const v1::CalibrationInfo info = Describe().calibration();
  // Every plan on 100 queries; plans near a common target on up to 400 (the adaptive sample).
  EXPECT_GE(info.queries(), 100u);
  EXPECT_LE(info.queries(), 400u);
  ASSERT_EQ(info.frontiers_size(), 1);
  const v1::Frontier& frontier = info.frontiers(0);
  EXPECT_EQ(frontier.k(), kK);
  ASSERT_GE(frontier.points_size(), 3);
  for (int i = 1; i < frontier.points_size(); ++i) {
    EXPECT_GE(frontier.points(i).mflops(), frontier.points(i - 1).mflops());
    EXPECT_GT(frontier.points(i).recall(), frontier.points(i - 1).recall());
  }
  EXPECT_DOUBLE_EQ(frontier.points(frontier.points_size() - 1).recall(), 1.0);
}

TEST_F(BudgetServingTest, TargetRecallIsMetOnHeldOutQueries) {
  EnsureCalibrated();
  for (const float target : {0.8f, 0.9f, 0.95f, 0.99f}) {
    v1::Budget budget;
    budget.set_target_recall(target);
    v1::SearchBatchResponse response;
    ASSERT_TRUE(SearchWith(budget, &response).ok());
    const v1::SearchResponse& first = response.results(0);
    ASSERT_TRUE(first.has_estimate());
    EXPECT_GE(first.estimate().recall(), target);
    EXPECT_EQ(first.estimate().k(), kK);
    EXPECT_FALSE(first.target_missed());
    const double recall = Recall(response);
    std::cout << "[budget] target " << target << ": plan " << first.plan().index() << " nprobe "
              << first.plan().nprobe() << " R " << first.plan().rerank_candidates()
              << ", calibrated " << first.estimate().recall() << ", held-out " << recall << ", "
              << first.cost().mflops() << " MFLOPs\n";
    EXPECT_GE(recall, target - 0.02);
  }
}

TEST_F(BudgetServingTest, MflopsCapsHoldAndBuyMonotoneRecall) {
  EnsureCalibrated();
  double last_recall = 0;
  for (const double cap : {0.05, 0.1, 0.2, 0.5, 2.0, 50.0}) {
    v1::Budget budget;
    budget.set_max_mflops(cap);
    v1::SearchBatchResponse response;
    ASSERT_TRUE(SearchWith(budget, &response).ok()) << cap;
    for (const v1::SearchResponse& result : response.results()) {
      ASSERT_LE(result.cost().mflops(), cap * (1 + 1e-9));
    }
    const double recall = Recall(response);
    std::cout << "[budget] max_mflops " << cap << ": plan " << response.results(0).plan().index()
              << ", held-out recall " << recall << "\n";
    EXPECT_GE(recall, last_recall - 0.01) << cap;
    last_recall = std::max(last_recall, recall);
  }
  v1::Budget tiny;
  tiny.set_max_mflops(1e-4);
  v1::SearchBatchResponse response;
  const grpc::Status refused = SearchWith(tiny, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_NE(refused.error_message().find("smallest workable budget"), std::string::npos);
}

TEST_F(BudgetServingTest, MaxDimsBoundsEveryStage) {
  EnsureCalibrated();
  v1::Budget budget;
  budget.set_target_recall(0.9f);
  budget.set_max_dims(64);
  v1::SearchBatchResponse response;
  ASSERT_TRUE(SearchWith(budget, &response).ok());
  const v1::Plan& plan = response.results(0).plan();
  EXPECT_LE(plan.coarse_dims(), 64u);
  EXPECT_LE(plan.search_dims(), 64u);
  EXPECT_LE(plan.rerank_dims(), 64u);
  // An explicit plan reading more than max_dims is refused.
  v1::Budget explicit_plan;
  explicit_plan.mutable_plan()->set_index("flat");
  explicit_plan.set_max_dims(64);
  EXPECT_EQ(SearchWith(explicit_plan, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BudgetServingTest, DefaultBudgetAppliesToPlainSearchesAndPersists) {
  EnsureCalibrated();
  const std::string set = Cli("collection set-budget fmnist --target-recall 0.95");
  EXPECT_NE(set.find("default budget: target_recall=0.95"), std::string::npos) << set;
  delete server_;
  server_ = new ServerProcess(dir_->path() + "/data", {"--auto_calibrate=false"});
  EXPECT_EQ(Describe().default_budget().target_recall(), 0.95f);
  v1::SearchBatchResponse response;
  ASSERT_TRUE(SearchWith(v1::Budget(), &response).ok());  // no budget: the default's
  ASSERT_TRUE(response.results(0).has_estimate());
  EXPECT_GE(response.results(0).estimate().recall(), 0.95);
  EXPECT_GE(Recall(response), 0.93);
  // A request's max_dims still applies on top of the default.
  v1::Budget dims;
  dims.set_max_dims(64);
  ASSERT_TRUE(SearchWith(dims, &response).ok());
  EXPECT_LE(response.results(0).plan().rerank_dims(), 64u);
  // Cleared: back to the automatic plan (the IVF's defaults, no estimate of its own).
  Cli("collection set-budget fmnist");
  EXPECT_FALSE(Describe().has_default_budget());
  ASSERT_TRUE(SearchWith(v1::Budget(), &response).ok());
  EXPECT_EQ(response.results(0).plan().index(), "ivf");
}

TEST_F(BudgetServingTest, CalibrationSurvivesARestartAndTakesGivenQueries) {
  EnsureCalibrated();
  const v1::CalibrationInfo before = Describe().calibration();
  delete server_;
  server_ = new ServerProcess(dir_->path() + "/data", {"--auto_calibrate=false"});
  const v1::CalibrationInfo after = Describe().calibration();
  EXPECT_EQ(after.state(), "ready");
  ASSERT_EQ(after.frontiers_size(), before.frontiers_size());
  EXPECT_EQ(after.frontiers(0).points_size(), before.frontiers(0).points_size());
  v1::Budget budget;
  budget.set_target_recall(0.95f);
  v1::SearchBatchResponse response;
  ASSERT_TRUE(SearchWith(budget, &response).ok());
  EXPECT_TRUE(response.results(0).has_estimate());

  // Calibration on caller-given queries (the first 50 test queries); bad shapes are refused.
  v1::CalibrateRequest given;
  given.set_collection("fmnist");
  given.add_ks(kK);
  given.mutable_query_vectors()->Add(queries_->values.begin(),
                                     queries_->values.begin() + 50 * kDim);
  ASSERT_TRUE(Calibrate(given).ok());
  const v1::CalibrationInfo calibrated = WaitForCalibration();
  EXPECT_EQ(calibrated.state(), "ready");
  EXPECT_EQ(calibrated.queries(), 50u);
  given.mutable_query_vectors()->RemoveLast();
  EXPECT_EQ(Calibrate(given).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::CalibrateRequest too_large;
  too_large.set_collection("fmnist");
  too_large.add_ks(60000);
  EXPECT_EQ(Calibrate(too_large).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  too_large.set_collection("nope");
  EXPECT_EQ(Calibrate(too_large).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BudgetServingTest, CliShowsAndPlotsTheFrontier) {
  EnsureCalibrated();
  const std::string png = dir_->path() + "/frontier.png";
  const std::string out = Cli("index frontier --collection fmnist --k 10 --png " + png);
  EXPECT_NE(out.find("k=10"), std::string::npos) << out;
  EXPECT_NE(out.find("index=flat"), std::string::npos) << out;
  std::ifstream file(png, std::ios::binary);
  char magic[4] = {};
  file.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  const std::string search =
      Cli("search --collection fmnist --k 10 --target-recall 0.9 --query " + [] {
        std::string values;
        for (uint32_t j = 0; j < kDim; ++j) {
          values += (j ? "," : "") + std::to_string(queries_->row(0)[j]);
        }
        return values;
      }());
  EXPECT_NE(search.find("calibrated recall@10"), std::string::npos) << search;
}

}  // namespace
}  // namespace adanns::testing
