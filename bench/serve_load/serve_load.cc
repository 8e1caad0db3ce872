// adanns-serve-load: ingest through the real client, timed Search / SearchBatch loops from several
// client threads, recall against the ground truth, and the same plan timed in-process.
#include "bench/serve_load/serve_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/metric.h"
#include "base/status_macros.h"
#include "bench/datasets/prepared_dataset.h"
#include "bench/serve_load/server_calls.h"
#include "bench/threads.h"
#include "client/client.h"
#include "index/flat_search.h"
#include "index/ivf_index.h"
#include "index/plan.h"
#include "index/vector_table.h"

namespace adanns::bench {
namespace {

namespace v1 = ::adanns::v1;
using Clock = std::chrono::steady_clock;

// No timed loop runs more requests per thread than this, whatever --seconds says.
constexpr uint64_t kMaxRequestsPerThread = 50'000'000;
// Longest wait for a server-side IVF build.
constexpr auto kMaxIndexBuildWait = std::chrono::seconds(30 * 60);

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const size_t rank = static_cast<size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(rank), values.end());
  return values[rank];
}

v1::Plan ProtoPlan(const ServeLoadOptions& options) {
  v1::Plan plan;
  plan.set_index(options.index);
  if (options.search_dims) plan.set_search_dims(*options.search_dims);
  if (options.rerank_candidates) plan.set_rerank_candidates(*options.rerank_candidates);
  if (options.nprobe) plan.set_nprobe(*options.nprobe);
  return plan;
}

index::Plan IndexPlan(const v1::Plan& plan) {
  index::Plan out;
  out.index = plan.index();
  if (plan.has_coarse_dims()) out.coarse_dims = plan.coarse_dims();
  if (plan.has_nprobe()) out.nprobe = plan.nprobe();
  if (plan.has_search_dims()) out.search_dims = plan.search_dims();
  if (plan.has_rerank_dims()) out.rerank_dims = plan.rerank_dims();
  if (plan.has_rerank_candidates()) out.rerank_candidates = plan.rerank_candidates();
  return out;
}

std::string DescribePlan(const v1::Plan& plan) {
  std::string text = absl::StrCat("index=", plan.index());
  if (plan.has_coarse_dims()) absl::StrAppend(&text, " coarse_dims=", plan.coarse_dims());
  if (plan.has_nprobe()) absl::StrAppend(&text, " nprobe=", plan.nprobe());
  if (plan.has_search_dims()) absl::StrAppend(&text, " search_dims=", plan.search_dims());
  if (plan.has_rerank_dims()) absl::StrAppend(&text, " rerank_dims=", plan.rerank_dims());
  if (plan.has_rerank_candidates()) {
    absl::StrAppend(&text, " rerank_candidates=", plan.rerank_candidates());
  }
  return text;
}

bool IsAngular(const PreparedDataset& data) { return data.distance == "angular"; }

// Drops the collection when present, creates it, upserts base.npy and, for --index ivf, builds
// the IVF and waits until it is ready.
absl::Status Ingest(client::Client& client, const ServeLoadOptions& options,
                    const PreparedDataset& data, ServeLoadReport& report) {
  v1::DescribeCollectionRequest describe;
  describe.set_name(options.collection);
  if (client.DescribeCollection(describe).ok()) {
    v1::DropCollectionRequest drop;
    drop.set_name(options.collection);
    RETURN_IF_ERROR(client.DropCollection(drop).status());
  }
  v1::CreateCollectionRequest create;
  create.set_name(options.collection);
  create.set_dim(static_cast<uint32_t>(data.base.cols));
  create.set_metric(IsAngular(data) ? v1::COSINE : v1::L2);
  RETURN_IF_ERROR(client.CreateCollection(create).status());

  const auto start = Clock::now();
  ASSIGN_OR_RETURN(const uint64_t committed,
                   client.UpsertRows(options.collection, 0, data.base.values.data(), data.base.rows,
                                     static_cast<uint32_t>(data.base.cols)));
  const double seconds = Seconds(Clock::now() - start);
  if (committed != data.base.rows) {
    return absl::InternalError(
        absl::StrCat("server committed ", committed, " of ", data.base.rows, " vectors"));
  }
  report.ingest_seconds = seconds;
  report.ingest_vectors_per_s = static_cast<double>(committed) / seconds;
  report.ingest_mb_per_s =
      *report.ingest_vectors_per_s * static_cast<double>(data.base.cols) * sizeof(float) / 1e6;
  std::fprintf(stderr, "ingested %llu vectors in %.2f s (%.0f vectors/s)\n",
               static_cast<unsigned long long>(committed), seconds, *report.ingest_vectors_per_s);

  const std::string kind =
      !options.build.empty() ? options.build : (options.index == "ivf" ? "ivf" : "");
  if (kind.empty()) return absl::OkStatus();
  if (kind != "ivf" && kind != "default") {
    return absl::InvalidArgumentError(
        absl::StrCat("--build must be ivf or default, got '", kind, "'"));
  }
  v1::BuildIndexRequest build;
  build.set_collection(options.collection);
  if (kind == "ivf") build.mutable_ivf();  // naming only the collection builds the default index
  ASSIGN_OR_RETURN(const v1::BuildIndexResponse started, client.BuildIndex(build));
  const std::string name = started.indexes().empty() ? "" : started.indexes(0).name();
  ASSIGN_OR_RETURN(const IndexBuildWait wait,
                   AwaitIndexBuild(client, options.collection, name, kMaxIndexBuildWait));
  report.index_build_seconds = wait.ready_seconds;
  return absl::OkStatus();
}

// One request of a timed loop: returns the queries it answered.
using Call = std::function<absl::StatusOr<uint64_t>(client::Client& client, uint64_t i)>;

// Runs `call` from `concurrency` threads (thread t on clients[t]) until `seconds` pass.
absl::StatusOr<LoadPoint> TimedLoop(const std::vector<std::unique_ptr<client::Client>>& clients,
                                    int concurrency, double seconds, const Call& call) {
  std::vector<std::vector<double>> latencies(concurrency);
  std::vector<uint64_t> queries(concurrency, 0);
  std::vector<absl::Status> errors(concurrency);
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      latencies[t].reserve(1 << 16);
      // Threads start at different queries so that they do not move in lockstep.
      uint64_t i = static_cast<uint64_t>(t) * 7919;
      for (uint64_t n = 0; n < kMaxRequestsPerThread && !stop.load(std::memory_order_relaxed);
           ++n, ++i) {
        const auto t0 = Clock::now();
        if (t0 >= deadline) break;
        absl::StatusOr<uint64_t> answered = call(*clients[t], i);
        const auto t1 = Clock::now();
        if (!answered.ok()) {
          errors[t] = answered.status();
          stop = true;
          break;
        }
        latencies[t].push_back(Micros(t1 - t0));
        queries[t] += *answered;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double elapsed = Seconds(Clock::now() - start);
  for (const absl::Status& error : errors) RETURN_IF_ERROR(error);

  LoadPoint point;
  point.concurrency = concurrency;
  point.seconds = elapsed;
  std::vector<double> all;
  for (int t = 0; t < concurrency; ++t) {
    all.insert(all.end(), latencies[t].begin(), latencies[t].end());
    point.queries += queries[t];
  }
  point.requests = all.size();
  point.qps = static_cast<double>(point.queries) / elapsed;
  point.max_us = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  point.p50_us = Percentile(all, 0.5);
  point.p99_us = Percentile(all, 0.99);
  return point;
}

// Rebuilds the server's IVF in-process from the parameters DescribeCollection reports.
absl::StatusOr<std::unique_ptr<index::IvfIndex>> BuildSameIvf(client::Client& client,
                                                              const ServeLoadOptions& options,
                                                              const index::VectorTable& table,
                                                              Metric metric) {
  v1::DescribeCollectionRequest describe;
  describe.set_name(options.collection);
  ASSIGN_OR_RETURN(const v1::CollectionInfo info, client.DescribeCollection(describe));
  for (const v1::IndexInfo& index : info.indexes()) {
    if (index.name() != "ivf" || index.state() != "ready") continue;
    const auto param = [&](const char* key) -> double {
      const auto it = index.params().find(key);
      return it == index.params().end() ? 0 : it->second;
    };
    index::IvfBuildParams params;
    params.nlist = static_cast<uint32_t>(param("nlist"));
    params.coarse_dims = static_cast<uint32_t>(param("coarse_dims"));
    params.search_dims = static_cast<uint32_t>(param("search_dims"));
    if (param("kmeans_iterations") > 0) {
      params.kmeans_iterations = static_cast<uint32_t>(param("kmeans_iterations"));
    }
    params.training_sample = static_cast<uint32_t>(param("training_sample"));
    if (index.params().find("seed") != index.params().end()) {
      params.seed = static_cast<uint64_t>(param("seed"));
    }
    return index::IvfIndex::Build(table, metric, params);
  }
  return absl::FailedPreconditionError("the collection has no ready IVF index");
}

// Times the plan the server resolved on an identical in-process table, one thread, one query at a
// time.
absl::Status InProcessBaseline(client::Client& client, const ServeLoadOptions& options,
                               const PreparedDataset& data, uint32_t num_queries,
                               const v1::Plan& resolved, ServeLoadReport& report) {
  const auto dim = static_cast<uint32_t>(data.base.cols);
  const Metric metric = IsAngular(data) ? Metric::kCosine : Metric::kL2;
  if (resolved.index() != "flat" && resolved.index() != "ivf") {
    report.in_process_note =
        absl::StrCat("no in-process baseline for index '", resolved.index(), "'");
    return absl::OkStatus();
  }
  index::VectorTable table(dim);
  for (uint64_t i = 0; i < data.base.rows; ++i) {
    table.Upsert(i, std::span<const float>(data.base.row(i), dim));
  }
  std::unique_ptr<index::IvfIndex> ivf;
  index::Plan plan;
  if (resolved.index() == "ivf") {
    std::fprintf(stderr, "building the same IVF in-process...\n");
    ASSIGN_OR_RETURN(ivf, BuildSameIvf(client, options, table, metric));
    ASSIGN_OR_RETURN(plan, ivf->ResolvePlan(IndexPlan(resolved), options.k));
    report.in_process_note = "in-process IVF rebuilt with the server's parameters";
  } else {
    ASSIGN_OR_RETURN(plan, index::ResolveFlatPlan(IndexPlan(resolved), dim, options.k));
    report.in_process_note = "index::FlatSearch on an identical VectorTable";
  }
  SetComputeThreads(1);
  std::vector<double> latencies;
  uint64_t sink = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options.seconds));
  for (uint64_t n = 0; n < kMaxRequestsPerThread; ++n) {
    const auto t0 = Clock::now();
    if (t0 >= deadline) break;
    const std::span<const float> query(data.queries.row(n % num_queries), dim);
    const index::SearchResult result =
        ivf ? ivf->Search(table, query, options.k, plan)
            : index::FlatSearch(table, metric, query, options.k, plan);
    latencies.push_back(Micros(Clock::now() - t0));
    sink += result.hits.empty() ? 0 : result.hits[0].id;
  }
  LoadPoint point;
  point.seconds = Seconds(Clock::now() - start);
  point.requests = point.queries = latencies.size();
  point.qps = static_cast<double>(point.queries) / point.seconds;
  point.p50_us = Percentile(latencies, 0.5);
  point.p99_us = Percentile(latencies, 0.99);
  report.in_process = point;
  if (sink == UINT64_MAX) std::fprintf(stderr, "\n");  // keeps the searches observable
  return absl::OkStatus();
}

// dd's synced write of 1 GiB into `dir` (the file is removed): MB/s, timed here.
absl::StatusOr<double> DiskSyncedWriteMbPerS(const std::string& dir) {
  const std::string file = dir + "/adanns-dd-probe";
  const std::string command =
      absl::StrCat("dd if=/dev/zero of='", file, "' bs=1M count=1024 conv=fdatasync 2>/dev/null");
  const auto start = Clock::now();
  const int rc = std::system(command.c_str());
  const double seconds = Seconds(Clock::now() - start);
  std::remove(file.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("`", command, "` failed (", rc, ")"));
  return (1024.0 * 1024 * 1024) / seconds / 1e6;
}

// Searches with the automatic plan from `threads` clients for `seconds`, first alone, then while
// one more client upserts messages of `message` base rows (new ids) back to back.
absl::StatusOr<MixedLoad> RunMixedLoad(const std::vector<std::unique_ptr<client::Client>>& clients,
                                       client::Client& writer, const ServeLoadOptions& options,
                                       const PreparedDataset& data, uint32_t num_queries) {
  const auto dim = static_cast<uint32_t>(data.base.cols);
  std::vector<v1::SearchRequest> searches(num_queries);
  for (uint32_t q = 0; q < num_queries; ++q) {
    searches[q].set_collection(options.collection);
    searches[q].mutable_query()->Add(data.queries.row(q), data.queries.row(q) + dim);
    searches[q].set_k(options.k);
  }
  const Call search = [&](client::Client& c, uint64_t i) -> absl::StatusOr<uint64_t> {
    RETURN_IF_ERROR(c.Search(searches[i % searches.size()]).status());
    return 1;
  };
  MixedLoad mixed;
  std::fprintf(stderr, "mixed load: %d search threads alone, %.0f s...\n",
               options.mixed_search_threads, options.mixed_seconds);
  ASSIGN_OR_RETURN(mixed.idle,
                   TimedLoop(clients, options.mixed_search_threads, options.mixed_seconds, search));

  std::fprintf(stderr, "mixed load: the same searches under a stream of %u-vector upserts...\n",
               options.mixed_message);
  std::atomic<bool> stop{false};
  absl::Status write_error;
  std::vector<double> message_ms;
  const auto write_start = Clock::now();
  std::thread upserts([&] {
    // New ids above every base id, so the collection grows as a live service's would.
    uint64_t next_id = 1'000'000'000;
    uint64_t row = 0;
    while (!stop.load()) {
      const uint64_t count = std::min<uint64_t>(options.mixed_message, data.base.rows - row);
      const auto t0 = Clock::now();
      absl::StatusOr<uint64_t> committed =
          writer.UpsertRows(options.collection, next_id, data.base.row(row), count, dim);
      if (absl::IsResourceExhausted(committed.status())) {  // backpressure: retry shortly
        ++mixed.refused_messages;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      if (!committed.ok()) {
        write_error = committed.status();
        return;
      }
      message_ms.push_back(Seconds(Clock::now() - t0) * 1e3);
      mixed.upserted += *committed;
      next_id += count;
      row = (row + count) % data.base.rows;
    }
  });
  absl::StatusOr<LoadPoint> under_writes =
      TimedLoop(clients, options.mixed_search_threads, options.mixed_seconds, search);
  stop = true;
  upserts.join();
  mixed.upsert_seconds = Seconds(Clock::now() - write_start);
  RETURN_IF_ERROR(under_writes.status());
  RETURN_IF_ERROR(write_error);
  mixed.under_writes = *under_writes;
  mixed.upsert_vectors_per_s = static_cast<double>(mixed.upserted) / mixed.upsert_seconds;
  mixed.upsert_mb_per_s = mixed.upsert_vectors_per_s * dim * sizeof(float) / 1e6;
  mixed.message_p50_ms = Percentile(message_ms, 0.5);
  mixed.message_p99_ms = Percentile(message_ms, 0.99);
  return mixed;
}

}  // namespace

absl::StatusOr<ServeLoadReport> RunServeLoad(const ServeLoadOptions& options) {
  RETURN_IF_ERROR(CheckLoopbackTarget(options.server));
  if (options.k == 0 || options.queries == 0 || options.batch == 0 || options.seconds <= 0) {
    return absl::InvalidArgumentError("--k, --queries, --batch and --seconds must be positive");
  }
  if (options.mixed_seconds < 0 || options.mixed_search_threads < 1 ||
      options.mixed_search_threads > 1024 || options.mixed_message == 0) {
    return absl::InvalidArgumentError(
        "--mixed-seconds must be >= 0, --mixed-search-threads 1..1024, --mixed-message > 0");
  }
  int max_concurrency = options.mixed_seconds > 0 ? options.mixed_search_threads : 0;
  for (const int c : options.concurrency) {
    if (c < 1 || c > 1024) return absl::InvalidArgumentError("--concurrency values: 1..1024");
    max_concurrency = std::max(max_concurrency, c);
  }
  if (max_concurrency == 0) return absl::InvalidArgumentError("--concurrency is empty");

  ASSIGN_OR_RETURN(const PreparedDataset data,
                   ReadPreparedDataset(options.data_dir, /*with_groundtruth=*/true));
  const auto dim = static_cast<uint32_t>(data.base.cols);
  const auto num_queries =
      static_cast<uint32_t>(std::min<uint64_t>(options.queries, data.queries.rows));
  if (num_queries == 0) return absl::InvalidArgumentError("queries.npy holds no queries");
  if (data.groundtruth.cols < options.k) {
    return absl::InvalidArgumentError(absl::StrCat("groundtruth.npy has ", data.groundtruth.cols,
                                                   " neighbours, --k is ", options.k));
  }
  ServeLoadReport report;
  report.dataset = data.name.empty() ? options.data_dir : data.name;
  report.base_rows = data.base.rows;
  report.dim = dim;
  report.queries = num_queries;

  std::vector<std::unique_ptr<client::Client>> clients;
  for (int t = 0; t < max_concurrency; ++t) {
    ASSIGN_OR_RETURN(std::unique_ptr<client::Client> c, client::Client::Connect(options.server));
    clients.push_back(std::move(c));
  }
  client::Client& main_client = *clients[0];
  if (!options.dd_dir.empty()) {
    std::fprintf(stderr, "dd: 1 GiB synced into %s...\n", options.dd_dir.c_str());
    ASSIGN_OR_RETURN(report.disk_sync_mb_per_s, DiskSyncedWriteMbPerS(options.dd_dir));
  }
  if (!options.skip_ingest) RETURN_IF_ERROR(Ingest(main_client, options, data, report));

  // Requests are built once, so the timed loops measure the RPCs, not the proto building.
  const v1::Plan plan = ProtoPlan(options);
  std::vector<v1::SearchRequest> searches(num_queries);
  for (uint32_t q = 0; q < num_queries; ++q) {
    searches[q].set_collection(options.collection);
    searches[q].mutable_query()->Add(data.queries.row(q), data.queries.row(q) + dim);
    searches[q].set_k(options.k);
    *searches[q].mutable_budget()->mutable_plan() = plan;
  }
  std::vector<v1::SearchBatchRequest> batches;
  for (uint32_t first = 0; first < num_queries; first += options.batch) {
    const uint32_t last = std::min(num_queries, first + options.batch);
    v1::SearchBatchRequest& request = batches.emplace_back();
    request.set_collection(options.collection);
    request.set_query_dims(dim);
    request.mutable_queries()->Add(data.queries.row(first), data.queries.row(last - 1) + dim);
    request.set_k(options.k);
    *request.mutable_budget()->mutable_plan() = plan;
  }

  // Recall pass (also the warm-up): every query once, in order.
  v1::Plan resolved;
  double hits_found = 0;
  for (uint32_t q = 0; q < num_queries; ++q) {
    ASSIGN_OR_RETURN(const v1::SearchResponse response, main_client.Search(searches[q]));
    if (q == 0) resolved = response.plan();
    std::unordered_set<uint64_t> truth;
    for (uint32_t j = 0; j < options.k; ++j) {
      truth.insert(static_cast<uint64_t>(data.groundtruth.row(q)[j]));
    }
    for (int j = 0; j < std::min<int>(response.hits_size(), static_cast<int>(options.k)); ++j) {
      hits_found += truth.contains(response.hits(j).id()) ? 1 : 0;
    }
  }
  report.recall = hits_found / (static_cast<double>(num_queries) * options.k);
  report.resolved_plan = DescribePlan(resolved);
  std::fprintf(stderr, "recall@%u = %.4f (plan: %s)\n", options.k, report.recall,
               report.resolved_plan.c_str());

  const Call search = [&](client::Client& c, uint64_t i) -> absl::StatusOr<uint64_t> {
    RETURN_IF_ERROR(c.Search(searches[i % searches.size()]).status());
    return 1;
  };
  const Call search_batch = [&](client::Client& c, uint64_t i) -> absl::StatusOr<uint64_t> {
    const v1::SearchBatchRequest& request = batches[i % batches.size()];
    ASSIGN_OR_RETURN(const v1::SearchBatchResponse response, c.SearchBatch(request));
    return static_cast<uint64_t>(response.results_size());
  };
  for (const int c : options.concurrency) {
    std::fprintf(stderr, "Search, concurrency %d, %.0f s...\n", c, options.seconds);
    ASSIGN_OR_RETURN(LoadPoint point, TimedLoop(clients, c, options.seconds, search));
    report.search.push_back(point);
    std::fprintf(stderr, "SearchBatch(%u), concurrency %d, %.0f s...\n", options.batch, c,
                 options.seconds);
    ASSIGN_OR_RETURN(point, TimedLoop(clients, c, options.seconds, search_batch));
    report.search_batch.push_back(point);
  }

  std::fprintf(stderr, "in-process baseline, %.0f s...\n", options.seconds);
  RETURN_IF_ERROR(InProcessBaseline(main_client, options, data, num_queries, resolved, report));
  if (options.mixed_seconds > 0) {
    ASSIGN_OR_RETURN(std::unique_ptr<client::Client> writer,
                     client::Client::Connect(options.server));
    ASSIGN_OR_RETURN(report.mixed, RunMixedLoad(clients, *writer, options, data, num_queries));
  }
  return report;
}

}  // namespace adanns::bench
