// adanns-grpc-overhead: what a gRPC Search costs over the same search in-process. Starts a real
// AdannsServer on loopback, ingests the data over gRPC, then for each query times
// index::FlatSearch on an identical in-process table and the Search RPC, interleaved so drift hits
// both alike. Prints p50/p99 of each and of the per-query difference.
//
// Usage: adanns-grpc-overhead [PREPARED_DIR] [QUERIES]   (default: seeded random 20000 x 784)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "adanns/v1/adanns.grpc.pb.h"
#include "bench/datasets/prepared_dataset.h"
#include "bench/threads.h"
#include "grpcpp/grpcpp.h"
#include "index/flat_search.h"
#include "server/server.h"

namespace adanns::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * (values.size() - 1))];
}

PreparedDataset RandomData(uint64_t rows, uint64_t queries, uint32_t dim) {
  PreparedDataset data;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  data.base = ZeroMatrix<float>(rows, dim);
  data.queries = ZeroMatrix<float>(queries, dim);
  for (float& v : data.base.values) v = normal(rng);
  for (float& v : data.queries.values) v = normal(rng);
  return data;
}

int Run(int argc, char** argv) {
  SetComputeThreads(1);
  PreparedDataset data;
  if (argc > 1) {
    auto loaded = ReadPreparedDataset(argv[1], /*with_groundtruth=*/false);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str());
      return 1;
    }
    data = *std::move(loaded);
  } else {
    data = RandomData(20000, 500, 784);
  }
  const size_t num_queries =
      std::min<size_t>(argc > 2 ? std::stoul(argv[2]) : 300, data.queries.rows);
  const auto dim = static_cast<uint32_t>(data.base.cols);

  const std::string data_dir =
      (std::filesystem::temp_directory_path() / ("adanns-overhead-" + std::to_string(getpid())))
          .string();
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = data_dir;
  options.metrics_listen = "";
  auto server = server::AdannsServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", server.status().ToString().c_str());
    return 1;
  }
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxSendMessageSize(64 << 20);
  auto stub = v1::Adanns::NewStub(
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                grpc::InsecureChannelCredentials(), channel_args));

  {
    v1::CreateCollectionRequest create;
    create.set_name("bench");
    create.set_dim(dim);
    create.set_metric(v1::L2);
    v1::CollectionInfo info;
    grpc::ClientContext context;
    if (!stub->CreateCollection(&context, create, &info).ok()) return 1;
    v1::UpsertResponse response;
    grpc::ClientContext upsert_context;
    auto writer = stub->Upsert(&upsert_context, &response);
    for (uint64_t first = 0; first < data.base.rows; first += 4096) {
      v1::UpsertRequest message;
      message.set_collection("bench");
      for (uint64_t i = first; i < std::min<uint64_t>(data.base.rows, first + 4096); ++i) {
        v1::Vector* v = message.add_vectors();
        v->set_id(i);
        v->mutable_values()->Add(data.base.row(i), data.base.row(i) + dim);
      }
      writer->Write(message);
    }
    writer->WritesDone();
    if (!writer->Finish().ok()) return 1;
  }
  index::VectorTable table(dim);
  for (uint64_t i = 0; i < data.base.rows; ++i) {
    table.Upsert(i, std::span<const float>(data.base.row(i), dim));
  }

  std::printf("rows=%llu dim=%u queries=%zu k=10, one query at a time, loopback\n",
              static_cast<unsigned long long>(data.base.rows), dim, num_queries);
  std::printf("%-22s %12s %12s %12s %12s %14s\n", "plan", "inproc_p50", "inproc_p99", "grpc_p50",
              "grpc_p99", "overhead_p50");
  for (uint32_t search_dims : {dim, std::min<uint32_t>(dim, 64u), 1u}) {
    index::Plan requested;
    requested.search_dims = search_dims;
    const index::Plan plan = *index::ResolveFlatPlan(requested, dim, 10);
    std::vector<double> inproc_us, grpc_us, overhead_us;
    for (size_t q = 0; q < num_queries; ++q) {
      const std::span<const float> query(data.queries.row(q), dim);
      auto t0 = Clock::now();
      const index::SearchResult local = index::FlatSearch(table, Metric::kL2, query, 10, plan);
      auto t1 = Clock::now();
      v1::SearchRequest request;
      request.set_collection("bench");
      request.mutable_query()->Add(query.begin(), query.end());
      request.set_k(10);
      request.mutable_budget()->mutable_plan()->set_search_dims(search_dims);
      v1::SearchResponse response;
      grpc::ClientContext context;
      auto t2 = Clock::now();
      const grpc::Status status = stub->Search(&context, request, &response);
      auto t3 = Clock::now();
      if (!status.ok() || response.hits(0).id() != local.hits[0].id) {
        std::fprintf(stderr, "error: RPC and in-process results differ at query %zu\n", q);
        return 1;
      }
      inproc_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      grpc_us.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count());
      overhead_us.push_back(grpc_us.back() - inproc_us.back());
    }
    std::printf("%-22s %12.1f %12.1f %12.1f %12.1f %14.1f\n",
                ("flat search_dims=" + std::to_string(search_dims)).c_str(),
                Percentile(inproc_us, 0.5), Percentile(inproc_us, 0.99), Percentile(grpc_us, 0.5),
                Percentile(grpc_us, 0.99), Percentile(overhead_us, 0.5));
  }
  // The transport alone: an RPC that does no search.
  std::vector<double> describe_us;
  for (size_t q = 0; q < num_queries; ++q) {
    v1::DescribeCollectionRequest request;
    request.set_name("bench");
    v1::CollectionInfo info;
    grpc::ClientContext context;
    const auto t0 = Clock::now();
    if (!stub->DescribeCollection(&context, request, &info).ok()) return 1;
    describe_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::printf("%-22s %12s %12s %12.1f %12.1f\n", "DescribeCollection", "-", "-",
              Percentile(describe_us, 0.5), Percentile(describe_us, 0.99));
  (*server)->Shutdown();
  std::filesystem::remove_all(data_dir);
  return 0;
}

}  // namespace
}  // namespace adanns::bench

int main(int argc, char** argv) { return adanns::bench::Run(argc, argv); }
