// A real server process with Fashion-MNIST-PCA (prepared by the prepare_fashion_mnist ctest
// fixture) ingested through the `adanns` CLI, shared by the tests of one suite, plus the helpers
// they all need: batch search of every query and recall@10 against the exact ground truth.
#pragma once

#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/readers/npy_reader.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {

class FmnistServerTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kDim = 784;
  static constexpr uint32_t kK = 10;

  // Loads the data, starts the server with `server_flags`, creates "fmnist" (with the CLI's
  // `create_flags` added) and ingests it.
  static void StartWithData(const std::vector<std::string>& server_flags = {},
                            const std::string& create_flags = "") {
    const std::string data = ADANNS_FMNIST_DIR;
    auto base = readers::ReadNpy(data + "/base.npy");
    auto queries = readers::ReadNpy(data + "/queries.npy");
    auto truth = readers::ReadNpyInt32(data + "/groundtruth.npy");
    ASSERT_TRUE(base.ok() && queries.ok() && truth.ok())
        << "prepared data missing in " << data << " (the prepare_fashion_mnist fixture makes it)";
    base_ = new readers::Matrix<float>(std::move(*base));
    queries_ = new readers::Matrix<float>(std::move(*queries));
    truth_ = new readers::Matrix<int32_t>(std::move(*truth));
    ASSERT_EQ(base_->cols, kDim);

    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->path() + "/data", server_flags);
    Cli("collection create fmnist --dim 784 --metric l2 " + create_flags);
    const std::string out = Cli("ingest --collection fmnist " + data + "/base.npy");
    std::cout << "[ingest] " << out.substr(out.find_last_of('\n', out.size() - 2) + 1);
  }

  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    delete base_;
    delete queries_;
    delete truth_;
  }

  // Runs the CLI against the server; fails the test on a non-zero exit.
  static std::string Cli(const std::string& args) {
    std::string output;
    const int code =
        RunCommand(CliBinary() + " --server " + server_->target() + " " + args + " 2>&1", &output);
    EXPECT_EQ(code, 0) << args << "\n" << output;
    return output;
  }

  // Every query (or the first `queries`) in one SearchBatch; `plan` null = the automatic plan.
  static v1::SearchBatchResponse SearchAll(const v1::Plan* plan, size_t queries = 0) {
    v1::SearchBatchRequest request;
    request.set_collection("fmnist");
    request.set_query_dims(kDim);
    const size_t values = queries == 0 ? queries_->values.size() : queries * kDim;
    request.mutable_queries()->Add(queries_->values.begin(), queries_->values.begin() + values);
    request.set_k(kK);
    if (plan) *request.mutable_budget()->mutable_plan() = *plan;
    v1::SearchBatchResponse response;
    grpc::ClientContext context;
    const grpc::Status status = server_->NewStub()->SearchBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Helpers on the "fmnist" collection.
  static v1::CollectionInfo Describe() {
    v1::DescribeCollectionRequest request;
    request.set_name("fmnist");
    v1::CollectionInfo info;
    grpc::ClientContext context;
    EXPECT_TRUE(server_->NewStub()->DescribeCollection(&context, request, &info).ok());
    return info;
  }

  static const v1::IndexInfo* FindIndex(const v1::CollectionInfo& info, const std::string& name) {
    for (const auto& index : info.indexes()) {
      if (index.name() == name) return &index;
    }
    return nullptr;
  }

  // Starts the suites' IVF build (nlist 256, d_c 32, d_s 64, 10 k-means iterations).
  static grpc::Status StartIvfBuild(v1::BuildIndexResponse* started) {
    v1::BuildIndexRequest build;
    build.set_collection("fmnist");
    build.mutable_ivf()->set_nlist(256);
    build.mutable_ivf()->set_coarse_dims(32);
    build.mutable_ivf()->set_search_dims(64);
    build.mutable_ivf()->set_kmeans_iterations(10);
    grpc::ClientContext context;
    return server_->NewStub()->BuildIndex(&context, build, started);
  }

  // Every query on the suites' IVF: nprobe lists, the best `rerank_candidates` re-ranked.
  static v1::SearchBatchResponse SearchIvf(uint32_t nprobe, uint32_t rerank_candidates) {
    v1::Plan plan;
    plan.set_index("ivf");
    plan.set_nprobe(nprobe);
    plan.set_rerank_candidates(rerank_candidates);
    return SearchAll(&plan);
  }

  // Polls DescribeCollection (bounded) until the index leaves "building".
  static std::string WaitForBuild(const std::string& name = "ivf") {
    for (int attempt = 0; attempt < 1200; ++attempt) {
      const v1::CollectionInfo info = Describe();
      const v1::IndexInfo* ivf = FindIndex(info, name);
      if (ivf != nullptr && ivf->state() != "building") return ivf->state();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "timeout";
  }

  static grpc::Status Upsert(uint64_t id, const float* values) {
    v1::UpsertRequest message;
    message.set_collection("fmnist");
    v1::Vector* v = message.add_vectors();
    v->set_id(id);
    v->mutable_values()->Add(values, values + kDim);
    v1::UpsertResponse response;
    grpc::ClientContext context;
    auto writer = server_->NewStub()->Upsert(&context, &response);
    writer->Write(message);
    writer->WritesDone();
    return writer->Finish();
  }

  static v1::SearchResponse SearchOne(const float* query, const v1::Plan& plan) {
    v1::SearchRequest request;
    request.set_collection("fmnist");
    request.mutable_query()->Add(query, query + kDim);
    request.set_k(kK);
    *request.mutable_budget()->mutable_plan() = plan;
    v1::SearchResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(server_->NewStub()->Search(&context, request, &response).ok());
    return response;
  }

  // VmRSS of the server process, bytes.
  static uint64_t ServerRss() {
    std::ifstream status("/proc/" + std::to_string(server_->pid()) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
  }

  // What a server holding only "fmnist" may keep resident: what the collection reports in memory
  // (its table and each index), what the block cache holds, and kServerBaseRss.
  static uint64_t MemoryBound(const v1::CollectionInfo& info) {
    uint64_t bytes = info.block_cache().usage_bytes() + kServerBaseRss;
    for (const v1::MemoryComponent& component : info.memory()) bytes += component.bytes();
    return bytes;
  }
  // 192 MiB: an empty server's RSS (about 32 MiB measured: code, gRPC and RocksDB threads),
  // RocksDB's memtables (at most 2 x 64 MiB: RocksDB's default max_write_buffer_number and
  // write_buffer_size, which the store keeps) and 32 MiB of allocator slack after a build's
  // temporary buffers.
  static constexpr uint64_t kServerBaseRss = uint64_t{192} << 20;

  static double Recall(const v1::SearchBatchResponse& response) {
    double hits = 0;
    for (int q = 0; q < response.results_size(); ++q) {
      std::set<int64_t> truth(truth_->row(q), truth_->row(q) + kK);
      for (const v1::Hit& hit : response.results(q).hits()) hits += truth.count(hit.id());
    }
    return hits / (static_cast<double>(response.results_size()) * kK);
  }

  static inline readers::Matrix<float>* base_ = nullptr;
  static inline readers::Matrix<float>* queries_ = nullptr;
  static inline readers::Matrix<int32_t>* truth_ = nullptr;
  static inline TempDir* dir_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
};

}  // namespace adanns::testing
