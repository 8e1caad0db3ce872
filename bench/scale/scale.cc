#include "bench/scale/scale.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "bench/datasets/ground_truth.h"
#include "bench/harness/recall.h"
#include "bench/serve_load/server_calls.h"
#include "client/client.h"
#include "client/readers/npy_reader.h"
#include "client/readers/npy_writer.h"

namespace adanns::bench {
namespace {

namespace v1 = ::adanns::v1;
using Clock = std::chrono::steady_clock;

// A build of 10M rows on two cores takes minutes; this only bounds a hung server.
constexpr auto kMaxBuildWait = std::chrono::seconds(6 * 3600);
constexpr const char* kIvfName = "ivf";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

absl::StatusOr<std::unique_ptr<client::Client>> ConnectTo(const ScaleServer& target) {
  RETURN_IF_ERROR(CheckLoopbackTarget(target.server));
  client::ClientOptions options;
  options.call_timeout = std::chrono::hours(1);  // DescribeCollection during a long build
  return client::Client::Connect(target.server, options);
}

absl::StatusOr<v1::Precision> ParsePrecision(const std::string& name) {
  if (name == "fp32") return v1::PRECISION_FP32;
  if (name == "fp16") return v1::PRECISION_FP16;
  if (name == "int8") return v1::PRECISION_INT8;
  return absl::InvalidArgumentError(
      absl::StrCat("--resident-precision must be fp32, fp16 or int8, got '", name, "'"));
}

// The collection's info, creating it first when missing.
absl::StatusOr<v1::CollectionInfo> OpenCollection(client::Client& client,
                                                  const SyntheticOptions& data,
                                                  const ScaleIngestOptions& options) {
  v1::DescribeCollectionRequest describe;
  describe.set_name(options.target.collection);
  absl::StatusOr<v1::CollectionInfo> info = client.DescribeCollection(describe);
  if (info.ok()) {
    if (info->dim() != data.dim) {
      return absl::FailedPreconditionError(absl::StrCat(
          "collection ", options.target.collection, " has ", info->dim(), " dims, not ", data.dim));
    }
    return info;
  }
  if (info.status().code() != absl::StatusCode::kNotFound) return info.status();
  ASSIGN_OR_RETURN(const v1::Precision precision, ParsePrecision(options.precision));
  v1::CreateCollectionRequest create;
  create.set_name(options.target.collection);
  create.set_dim(data.dim);
  create.set_metric(v1::L2);
  create.mutable_storage()->set_resident_dims(options.resident_dims);
  create.mutable_storage()->set_resident_precision(precision);
  return client.CreateCollection(create);
}

// One pass of every query under one plan.
struct Pass {
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
  double recall = 0;
  double vectors_fetched = 0;
  double mflops = 0;
};

absl::StatusOr<Pass> RunPass(const std::vector<std::unique_ptr<client::Client>>& clients,
                             const ScaleSearchOptions& options, const ScalePlan& plan,
                             const FloatMatrix& queries, const Int32Matrix& truth, uint32_t nq) {
  const int threads = static_cast<int>(clients.size());
  std::vector<double> latencies(nq);
  std::vector<double> recalls(nq);
  std::vector<double> fetched(nq);
  std::vector<double> mflops(nq);
  std::vector<absl::Status> errors(threads);
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      v1::SearchRequest request;
      request.set_collection(options.target.collection);
      request.set_k(options.k);
      v1::Plan* wanted = request.mutable_budget()->mutable_plan();
      wanted->set_index("ivf");
      if (plan.nprobe > 0) wanted->set_nprobe(plan.nprobe);
      if (plan.rerank_candidates > 0) wanted->set_rerank_candidates(plan.rerank_candidates);
      for (uint32_t q = static_cast<uint32_t>(t); q < nq; q += static_cast<uint32_t>(threads)) {
        request.mutable_query()->Assign(queries.row(q), queries.row(q) + queries.cols);
        const auto t0 = Clock::now();
        absl::StatusOr<v1::SearchResponse> response = clients[t]->Search(request);
        latencies[q] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        if (!response.ok()) {
          errors[t] = response.status();
          return;
        }
        const std::unordered_set<int64_t> expected(truth.row(q), truth.row(q) + options.k);
        uint32_t found = 0;
        std::unordered_set<int64_t> seen;
        for (const v1::Hit& hit : response->hits()) {
          const auto id = static_cast<int64_t>(hit.id());
          if (seen.insert(id).second && expected.count(id) > 0) ++found;
        }
        recalls[q] = static_cast<double>(found) / options.k;
        fetched[q] = static_cast<double>(response->cost().vectors_fetched());
        mflops[q] = response->cost().mflops();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  const double elapsed = Seconds(Clock::now() - start);
  for (const absl::Status& error : errors) RETURN_IF_ERROR(error);
  Pass pass;
  pass.qps = nq / elapsed;
  auto mean = [nq](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return sum / nq;
  };
  pass.recall = mean(recalls);
  pass.vectors_fetched = mean(fetched);
  pass.mflops = mean(mflops);
  pass.p50_us = Percentile(latencies, 0.5);
  pass.p99_us = Percentile(latencies, 0.99);
  return pass;
}

}  // namespace

absl::StatusOr<ScaleIngestResult> RunScaleIngest(const SyntheticOptions& data,
                                                 const ScaleIngestOptions& options) {
  RETURN_IF_ERROR(ValidateSyntheticOptions(data));
  if (options.chunk_rows == 0) return absl::InvalidArgumentError("--chunk must be at least 1");
  ASSIGN_OR_RETURN(std::unique_ptr<client::Client> client, ConnectTo(options.target));
  ASSIGN_OR_RETURN(const v1::CollectionInfo info, OpenCollection(*client, data, options));
  // Chunks are sent one after another and a chunk's stream commits its messages in order, so
  // every row below the first row of the chunk in flight was committed: restarting there
  // re-upserts at most one chunk, with the same ids and bytes.
  ScaleIngestResult result;
  result.resumed_from =
      std::min<uint64_t>(data.n, info.vector_count() / options.chunk_rows * options.chunk_rows);
  const RowChunkSource rows = SyntheticRowSource(data, /*queries=*/false);
  auto generate = [&rows](uint64_t first, uint64_t count) {
    std::vector<float> chunk;
    rows(first, count, chunk);
    return chunk;
  };
  const auto start = Clock::now();
  uint64_t first = result.resumed_from;
  std::future<std::vector<float>> next;
  if (first < data.n) {
    next = std::async(std::launch::async, generate, first,
                      std::min(options.chunk_rows, data.n - first));
  }
  while (first < data.n) {
    const uint64_t count = std::min(options.chunk_rows, data.n - first);
    const std::vector<float> chunk = next.get();
    const uint64_t after = first + count;
    // The next chunk is generated while this one is sent and synced.
    if (after < data.n) {
      next = std::async(std::launch::async, generate, after,
                        std::min(options.chunk_rows, data.n - after));
    }
    ASSIGN_OR_RETURN(const uint64_t committed, client->UpsertRows(options.target.collection, first,
                                                                  chunk.data(), count, data.dim));
    if (committed != count) {
      return absl::InternalError(
          absl::StrCat("rows ", first, "..: the server committed ", committed, " of ", count));
    }
    result.upserted += count;
    first = after;
    const double elapsed = Seconds(Clock::now() - start);
    std::fprintf(stderr, "ingest: %llu / %llu rows, %.0f vectors/s\n",
                 static_cast<unsigned long long>(first), static_cast<unsigned long long>(data.n),
                 static_cast<double>(result.upserted) / std::max(elapsed, 1e-9));
  }
  result.seconds = Seconds(Clock::now() - start);
  if (result.seconds > 0) {
    result.vectors_per_s = static_cast<double>(result.upserted) / result.seconds;
    result.mb_per_s = result.vectors_per_s * data.dim * sizeof(float) / 1e6;
  }
  return result;
}

absl::StatusOr<ScaleTruthResult> RunScaleTruth(const SyntheticOptions& data,
                                               const ScaleTruthOptions& options) {
  RETURN_IF_ERROR(ValidateSyntheticOptions(data));
  std::error_code error;
  std::filesystem::create_directories(options.out_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.out_dir, ": ", error.message()));
  }
  const auto start = Clock::now();
  FloatMatrix queries = ZeroMatrix<float>(data.queries, data.dim);
  std::vector<float> scratch;
  const float* generated = SyntheticRowSource(data, /*queries=*/true)(0, data.queries, scratch);
  std::copy(generated, generated + queries.values.size(), queries.values.begin());

  StreamedTruthOptions streamed;
  streamed.rows_per_chunk = options.rows_per_chunk;
  streamed.checkpoint_path = (std::filesystem::path(options.out_dir) / "truth.ckpt").string();
  const auto progress_start = Clock::now();
  streamed.progress = [&progress_start](uint64_t done, uint64_t total) {
    std::fprintf(stderr, "truth: %llu / %llu rows (%.0f s)\n",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 Seconds(Clock::now() - progress_start));
  };
  ASSIGN_OR_RETURN(const GroundTruth truth,
                   StreamedL2GroundTruth(data.n, data.dim, SyntheticRowSource(data, false), queries,
                                         options.k, streamed));
  const std::filesystem::path dir(options.out_dir);
  RETURN_IF_ERROR(readers::WriteNpy((dir / "queries.npy").string(), queries.rows, queries.cols,
                                    queries.values.data()));
  RETURN_IF_ERROR(readers::WriteNpyInt32((dir / "groundtruth.npy").string(), truth.neighbors.rows,
                                         truth.neighbors.cols, truth.neighbors.values.data()));
  ScaleTruthResult result;
  result.seconds = Seconds(Clock::now() - start);
  result.full_rescans = truth.full_rescans;
  return result;
}

absl::StatusOr<ScaleBuildResult> RunScaleBuild(const ScaleBuildOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<client::Client> client, ConnectTo(options.target));
  v1::DescribeCollectionRequest describe;
  describe.set_name(options.target.collection);
  ASSIGN_OR_RETURN(const v1::CollectionInfo info, client->DescribeCollection(describe));
  ScaleBuildResult result;
  bool building = false;
  for (const v1::IndexInfo& index : info.indexes()) {
    if (index.name() != kIvfName) continue;
    if (index.state() == "ready") {
      result.already_ready = true;
      return result;
    }
    // A build the server resumed after a restart (its pending record) is only waited for.
    building = index.state() == "building";
  }
  v1::BuildIndexRequest build;
  build.set_collection(options.target.collection);
  v1::IvfParams* ivf = build.mutable_ivf();
  if (options.nlist > 0) ivf->set_nlist(options.nlist);
  if (options.coarse_dims > 0) ivf->set_coarse_dims(options.coarse_dims);
  if (options.search_dims > 0) ivf->set_search_dims(options.search_dims);
  if (options.training_sample > 0) ivf->set_training_sample(options.training_sample);
  if (!building) RETURN_IF_ERROR(client->BuildIndex(build).status());
  ASSIGN_OR_RETURN(const IndexBuildWait wait,
                   AwaitIndexBuild(*client, options.target.collection, kIvfName, kMaxBuildWait));
  result.ready_seconds = wait.ready_seconds;
  result.settled_seconds = wait.settled_seconds;
  return result;
}

absl::StatusOr<std::vector<ScaleSearchPoint>> RunScaleSearch(const ScaleSearchOptions& options) {
  if (options.plans.empty()) return absl::InvalidArgumentError("--plans lists no plan");
  if (options.threads < 1 || options.repeat < 1 || options.k < 1) {
    return absl::InvalidArgumentError("--threads, --repeat and --k must be at least 1");
  }
  const std::filesystem::path dir(options.truth_dir);
  ASSIGN_OR_RETURN(const FloatMatrix queries, readers::ReadNpy((dir / "queries.npy").string()));
  ASSIGN_OR_RETURN(const Int32Matrix truth,
                   readers::ReadNpyInt32((dir / "groundtruth.npy").string()));
  if (truth.rows != queries.rows || truth.cols < options.k) {
    return absl::InvalidArgumentError(absl::StrCat(options.truth_dir, ": groundtruth.npy is ",
                                                   truth.rows, " x ", truth.cols, " for ",
                                                   queries.rows, " queries and k = ", options.k));
  }
  const auto nq = static_cast<uint32_t>(
      options.queries == 0 ? queries.rows : std::min<uint64_t>(options.queries, queries.rows));
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int t = 0; t < options.threads; ++t) {
    ASSIGN_OR_RETURN(clients.emplace_back(), ConnectTo(options.target));
  }
  std::vector<std::vector<Pass>> passes(options.plans.size());
  for (int rep = 0; rep < options.repeat; ++rep) {
    for (size_t p = 0; p < options.plans.size(); ++p) {
      ASSIGN_OR_RETURN(Pass pass, RunPass(clients, options, options.plans[p], queries, truth, nq));
      std::fprintf(stderr,
                   "search pass %d nprobe=%u rerank=%u: recall %.4f, %.1f QPS, p99 %.0f us\n",
                   rep + 1, options.plans[p].nprobe, options.plans[p].rerank_candidates,
                   pass.recall, pass.qps, pass.p99_us);
      passes[p].push_back(pass);
    }
  }
  std::vector<ScaleSearchPoint> points;
  for (size_t p = 0; p < options.plans.size(); ++p) {
    std::vector<double> qps, p50, p99;
    for (const Pass& pass : passes[p]) {
      qps.push_back(pass.qps);
      p50.push_back(pass.p50_us);
      p99.push_back(pass.p99_us);
    }
    ScaleSearchPoint point;
    point.plan = options.plans[p];
    // The same queries under the same plan: recall and costs agree across passes.
    point.recall = passes[p].front().recall;
    point.vectors_fetched = passes[p].front().vectors_fetched;
    point.mflops = passes[p].front().mflops;
    point.qps = Percentile(qps, 0.5);
    point.qps_min = *std::min_element(qps.begin(), qps.end());
    point.qps_max = *std::max_element(qps.begin(), qps.end());
    point.p50_us = Percentile(p50, 0.5);
    point.p99_us = Percentile(p99, 0.5);
    point.p99_us_min = *std::min_element(p99.begin(), p99.end());
    point.p99_us_max = *std::max_element(p99.begin(), p99.end());
    points.push_back(point);
  }
  return points;
}

absl::StatusOr<ScalePlan> ParseScalePlan(const std::string& text) {
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  ScalePlan plan;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &plan.nprobe) ||
      !absl::SimpleAtoi(parts[1], &plan.rerank_candidates) || plan.nprobe == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a plan is NPROBE:RERANK_CANDIDATES (e.g. 128:400; 0 re-rank candidates = the "
                     "server's default), got '",
                     text, "'"));
  }
  return plan;
}

}  // namespace adanns::bench
