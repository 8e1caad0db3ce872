// SearchRequest.device over a real loopback server. Without a GPU: DEVICE_GPU is refused with
// FAILED_PRECONDITION and DEVICE_AUTO runs on the CPU. With the host-memory stand-in for the GPU
// (GpuOptions.emulate, what CI can run) and, where one is present, with the real GPU, the GPU
// path's mirror, routing and batching give the CPU path's answers, after upserts, deletes and a
// restart.
#include <atomic>
#include <cmath>
#include <random>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "index/cuda/gpu.h"
#include "index/host_mirror_scorer.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 32;
constexpr size_t kVectors = 3000;

class DeviceTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    options.auto_calibrate = false;
    options.gpu.emulate = emulate_;
  }

  void SetUp() override {
    InProcessServerTest::SetUp();
    ASSERT_EQ(Create("c", kDim, v1::COSINE), grpc::StatusCode::OK);
    Upsert(0, kVectors, 1);
  }

  void Restart() {
    server_.reset();
    InProcessServerTest::SetUp();
  }

  void Upsert(uint64_t first, size_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    v1::UpsertRequest message;
    message.set_collection("c");
    for (uint64_t id = first; id < first + count; ++id) {
      v1::Vector* v = message.add_vectors();
      v->set_id(id);
      for (uint32_t j = 0; j < kDim; ++j) v->add_values(normal(rng));
    }
    v1::UpsertResponse response;
    ASSERT_TRUE(UpsertMessage(message, &response).ok());
  }

  std::vector<float> Query(uint32_t seed) const {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> query(kDim);
    for (float& x : query) x = normal(rng);
    return query;
  }

  grpc::Status Search(v1::Device device, const v1::Budget& budget, uint32_t seed,
                      v1::SearchResponse* response, uint32_t k = 10) {
    v1::SearchRequest request;
    request.set_collection("c");
    const std::vector<float> query = Query(seed);
    request.mutable_query()->Add(query.begin(), query.end());
    request.set_k(k);
    request.set_device(device);
    *request.mutable_budget() = budget;
    grpc::ClientContext context;
    return stub_->Search(&context, request, response);
  }

  // The same hits rank by rank; ids may trade places only within a run of CPU ranks whose
  // neighbouring scores are within rounding (a real GPU sums in another order), and the GPU's id
  // must be one of that run's.
  static void ExpectSameHits(const google::protobuf::RepeatedPtrField<v1::Hit>& cpu,
                             const google::protobuf::RepeatedPtrField<v1::Hit>& gpu) {
    constexpr double kRounding = 1e-5;
    ASSERT_EQ(cpu.size(), gpu.size());
    std::set<uint64_t> seen;
    for (int i = 0; i < cpu.size(); ++i) {
      EXPECT_NEAR(cpu[i].score(), gpu[i].score(), kRounding) << "rank " << i;
      EXPECT_TRUE(seen.insert(gpu[i].id()).second) << "id " << gpu[i].id() << " twice";
      if (cpu[i].id() == gpu[i].id()) continue;
      int first = i;
      int last = i;
      while (first > 0 && std::abs(cpu[first - 1].score() - cpu[first].score()) <= kRounding) {
        --first;
      }
      while (last + 1 < cpu.size() &&
             std::abs(cpu[last + 1].score() - cpu[last].score()) <= kRounding) {
        ++last;
      }
      bool in_run = false;
      for (int j = first; j <= last; ++j) in_run |= cpu[j].id() == gpu[i].id();
      EXPECT_TRUE(first < last && in_run)
          << "rank " << i << ": id " << gpu[i].id() << " vs CPU id " << cpu[i].id();
    }
  }

  // The same search on the CPU and on the (emulated) GPU gives the same hits.
  void ExpectSameOnBoth(const v1::Budget& budget, uint32_t seed) {
    v1::SearchResponse cpu, gpu;
    ASSERT_TRUE(Search(v1::DEVICE_CPU, budget, seed, &cpu).ok());
    ASSERT_TRUE(Search(v1::DEVICE_GPU, budget, seed, &gpu).ok());
    EXPECT_EQ(cpu.device(), "cpu");
    EXPECT_EQ(gpu.device(), mirror_device_);
    ExpectSameHits(cpu.hits(), gpu.hits());
    EXPECT_EQ(cpu.plan().DebugString(), gpu.plan().DebugString());
    EXPECT_DOUBLE_EQ(cpu.cost().mflops(), gpu.cost().mflops());
  }

  bool emulate_ = false;
  // What SearchResponse.device names for searches the mirror served.
  std::string mirror_device_ = "host-mirror";
};

class EmulatedGpuTest : public DeviceTest {
 protected:
  EmulatedGpuTest() { emulate_ = true; }
};

// The mirror tests twice: on the host-memory stand-in (every machine) and on the real GPU (skipped
// where there is none; run by bench/gpu/run-on-device.sh on a GPU machine).
enum class Mirror { kEmulated, kDevice };

class MirrorTest : public DeviceTest, public ::testing::WithParamInterface<Mirror> {
 protected:
  void Configure(server::ServerOptions& options) override {
    DeviceTest::Configure(options);
    options.gpu.emulate = GetParam() == Mirror::kEmulated;
    options.gpu.enabled = true;
  }

  void SetUp() override {
    if (GetParam() == Mirror::kDevice) {
      const index::gpu::DeviceInfo device = index::gpu::Probe();
      if (!device.available) GTEST_SKIP() << "no GPU: " << device.reason;
      mirror_device_ = device.name;
    }
    DeviceTest::SetUp();
  }
};

INSTANTIATE_TEST_SUITE_P(OnEach, MirrorTest, ::testing::Values(Mirror::kEmulated, Mirror::kDevice),
                         [](const ::testing::TestParamInfo<Mirror>& param_info) {
                           return param_info.param == Mirror::kEmulated ? "Emulated" : "Device";
                         });

// The host mirror, but every call fails with `failure` once `armed` is set: what a sticky CUDA
// error (an illegal address, say) or an out-of-memory answer looks like to the collection.
class FailingScorer : public index::HostMirrorScorer {
 public:
  FailingScorer(const index::gpu::ScorerOptions& options, std::shared_ptr<std::atomic<bool>> armed,
                absl::Status failure)
      : HostMirrorScorer(options.metric, options.resident_dims, 2048),
        armed_(std::move(armed)),
        failure_(std::move(failure)) {}

  absl::Status SetRows(std::span<const index::RowId> rows, const float* values,
                       uint32_t dim) override {
    if (*armed_) return failure_;
    return HostMirrorScorer::SetRows(rows, values, dim);
  }
  absl::StatusOr<index::BatchTopK> Scan(const index::QueryBatch& queries, uint32_t dims, uint32_t k,
                                        size_t row_limit) override {
    if (*armed_) return failure_;
    return HostMirrorScorer::Scan(queries, dims, k, row_limit);
  }

 private:
  std::shared_ptr<std::atomic<bool>> armed_;
  absl::Status failure_;
};

class FailingGpuTest : public DeviceTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    DeviceTest::Configure(options);
    options.metrics_listen = "127.0.0.1:0";
    options.gpu.enabled = true;
    options.gpu.make_scorer = [this](const index::gpu::ScorerOptions& scorer_options)
        -> absl::StatusOr<std::unique_ptr<index::BatchScorer>> {
      return std::make_unique<FailingScorer>(scorer_options, armed_, failure_);
    };
  }

  std::shared_ptr<std::atomic<bool>> armed_ = std::make_shared<std::atomic<bool>>(false);
  absl::Status failure_ = absl::InternalError("fused scan: an illegal memory access (emulated)");
};

class Fp16GpuTest : public DeviceTest {
 protected:
  Fp16GpuTest() { emulate_ = true; }
  void Configure(server::ServerOptions& options) override {
    DeviceTest::Configure(options);
    options.gpu.storage = index::gpu::Storage::kFloat16;
  }
};

TEST_F(DeviceTest, WithoutAGpuGpuIsRefusedAndAutoRunsOnTheCpu) {
  v1::SearchResponse response;
  const grpc::Status refused = Search(v1::DEVICE_GPU, FlatPlan(kDim), 1, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("no GPU"), std::string::npos) << refused.error_message();
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 1, &response).ok());
  EXPECT_EQ(response.device(), "cpu");
  EXPECT_EQ(response.hits_size(), 10);
  const grpc::Status unknown = Search(static_cast<v1::Device>(7), FlatPlan(kDim), 1, &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(unknown.error_message().find("device"), std::string::npos);
}

TEST_P(MirrorTest, FlatPlansGiveTheCpuAnswers) {
  for (uint32_t seed = 10; seed < 15; ++seed) {
    ExpectSameOnBoth(FlatPlan(kDim), seed);    // exact scan
    ExpectSameOnBoth(FlatPlan(8), seed);       // short prefix
    ExpectSameOnBoth(FlatPlan(8, 100), seed);  // MRL shortlist + re-rank at full dim
  }
  v1::SearchResponse response;
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(16, 60), 3, &response).ok());
  EXPECT_EQ(response.device(), mirror_device_);
}

TEST_P(MirrorTest, UpsertsAndDeletesReachTheMirror) {
  // Overwrite 500 ids, add 500, delete every 7th id of the first 1000.
  Upsert(1000, 1000, 99);
  v1::DeleteRequest remove;
  remove.set_collection("c");
  std::set<uint64_t> deleted;
  for (uint64_t id = 0; id < 1000; id += 7) {
    remove.add_ids(id);
    deleted.insert(id);
  }
  v1::DeleteResponse removed;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Delete(&context, remove, &removed).ok());
  for (uint32_t seed = 20; seed < 25; ++seed) {
    ExpectSameOnBoth(FlatPlan(kDim), seed);
    ExpectSameOnBoth(FlatPlan(8, 80), seed);
    v1::SearchResponse all;
    ASSERT_TRUE(Search(v1::DEVICE_GPU, FlatPlan(kDim), seed, &all, 2000).ok());
    for (const v1::Hit& hit : all.hits()) EXPECT_EQ(deleted.count(hit.id()), 0u) << hit.id();
  }
  Restart();  // the mirror is rebuilt from the stored rows
  for (uint32_t seed = 30; seed < 33; ++seed) ExpectSameOnBoth(FlatPlan(kDim), seed);
}

TEST_F(EmulatedGpuTest, BeyondTheDevicesLimitsAutoFallsBackAndGpuIsRefused) {
  // 3000 re-rank candidates: more than the emulated device keeps per query (2048).
  v1::SearchResponse response;
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(8, 3000), 5, &response).ok());
  EXPECT_EQ(response.device(), "cpu");
  const grpc::Status refused = Search(v1::DEVICE_GPU, FlatPlan(8, 3000), 5, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("candidates"), std::string::npos);
}

TEST_P(MirrorTest, BatchesGoToTheDeviceInOneCall) {
  v1::SearchBatchRequest request;
  request.set_collection("c");
  request.set_query_dims(kDim);
  request.set_k(10);
  for (uint32_t seed = 40; seed < 90; ++seed) {
    const std::vector<float> query = Query(seed);
    request.mutable_queries()->Add(query.begin(), query.end());
  }
  *request.mutable_budget() = FlatPlan(8, 50);
  v1::SearchBatchResponse on_cpu, on_gpu;
  request.set_device(v1::DEVICE_CPU);
  grpc::ClientContext cpu_context, gpu_context;
  ASSERT_TRUE(stub_->SearchBatch(&cpu_context, request, &on_cpu).ok());
  request.set_device(v1::DEVICE_GPU);
  ASSERT_TRUE(stub_->SearchBatch(&gpu_context, request, &on_gpu).ok());
  ASSERT_EQ(on_cpu.results_size(), 50);
  ASSERT_EQ(on_gpu.results_size(), 50);
  for (int q = 0; q < 50; ++q) {
    EXPECT_EQ(on_gpu.results(q).device(), mirror_device_);
    ExpectSameHits(on_cpu.results(q).hits(), on_gpu.results(q).hits());
  }
}

TEST_F(FailingGpuTest, ADeviceErrorDropsTheMirrorAndSearchesGoOnOnTheCpu) {
  v1::SearchResponse before, cpu;
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 3, &before).ok());
  EXPECT_EQ(before.device(), "host-mirror");
  ASSERT_TRUE(Search(v1::DEVICE_CPU, FlatPlan(kDim), 3, &cpu).ok());
  *armed_ = true;
  // The failing call is answered on the CPU, with the CPU's hits.
  v1::SearchResponse after;
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 3, &after).ok());
  EXPECT_EQ(after.device(), "cpu");
  ASSERT_EQ(after.hits_size(), cpu.hits_size());
  for (int i = 0; i < cpu.hits_size(); ++i) EXPECT_EQ(after.hits(i).id(), cpu.hits(i).id());
  // The mirror is dropped for good: DEVICE_GPU is refused, AUTO stays on the CPU, writes go on.
  const grpc::Status refused = Search(v1::DEVICE_GPU, FlatPlan(kDim), 3, &after);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  Upsert(kVectors, 10, 5);
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 4, &after).ok());
  EXPECT_EQ(after.device(), "cpu");
  EXPECT_NE(ScrapeMetrics().find("adanns_gpu_errors_total{action=\"dropped\"} 1"),
            std::string::npos);
}

TEST_F(FailingGpuTest, AGpuSearchThatFailsIsUnavailableAndLaterOnesRunOnTheCpu) {
  *armed_ = true;
  v1::SearchResponse response;
  const grpc::Status failed = Search(v1::DEVICE_GPU, FlatPlan(kDim), 3, &response);
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(failed.error_message().find("illegal memory access"), std::string::npos)
      << failed.error_message();
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 3, &response).ok());
  EXPECT_EQ(response.device(), "cpu");
}

TEST_F(FailingGpuTest, OutOfDeviceMemorySendsOnlyThatSearchToTheCpu) {
  failure_ = absl::ResourceExhaustedError("cudaMalloc: out of device memory (emulated)");
  Restart();  // the scorer is made with the new failure
  *armed_ = true;
  v1::SearchResponse response;
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 3, &response).ok());
  EXPECT_EQ(response.device(), "cpu");
  *armed_ = false;  // memory freed: the mirror was kept, and serves again
  ASSERT_TRUE(Search(v1::DEVICE_AUTO, FlatPlan(kDim), 3, &response).ok());
  EXPECT_EQ(response.device(), "host-mirror");
  EXPECT_NE(ScrapeMetrics().find("adanns_gpu_errors_total{action=\"cpu_fallback\"} 1"),
            std::string::npos);
}

TEST_F(Fp16GpuTest, ValuesBeyondFp16AreRefusedAndNothingIsWritten) {
  v1::UpsertRequest message;
  message.set_collection("c");
  for (uint64_t id : {9000u, 9001u}) {
    v1::Vector* v = message.add_vectors();
    v->set_id(id);
    for (uint32_t j = 0; j < kDim; ++j) v->add_values(id == 9001 && j == 4 ? 70000.0f : 1.0f);
  }
  v1::UpsertResponse response;
  const grpc::Status refused = UpsertMessage(message, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("65504"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("9001"), std::string::npos) << refused.error_message();
  v1::GetRequest get;
  get.set_collection("c");
  get.add_ids(9000);
  get.add_ids(9001);
  v1::GetResponse got;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Get(&context, get, &got).ok());
  EXPECT_EQ(got.vectors_size(), 0);  // not even the valid one of the message
  // In range, on the emulated fp16 device: the stored vector is found at (nearly) distance 0.
  message.mutable_vectors(1)->set_values(4, 65504.0f);
  ASSERT_TRUE(UpsertMessage(message, &response).ok());
  v1::SearchRequest request;
  request.set_collection("c");
  request.mutable_query()->CopyFrom(message.vectors(1).values());
  request.set_k(1);
  request.set_device(v1::DEVICE_GPU);
  *request.mutable_budget() = FlatPlan(kDim);
  v1::SearchResponse found;
  grpc::ClientContext search_context;
  ASSERT_TRUE(stub_->Search(&search_context, request, &found).ok());
  ASSERT_EQ(found.hits_size(), 1);
  EXPECT_EQ(found.hits(0).id(), 9001u);
}

}  // namespace
}  // namespace adanns::testing
