// adanns-scale command line: ingest | truth | build | search over a seeded synthetic collection
// (bench/scale/scale.h). Each subcommand prints one JSON object with its numbers on stdout;
// progress goes to stderr.
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "bench/scale/scale.h"

namespace {

using adanns::bench::SyntheticOptions;

void AddDataFlags(CLI::App& command, SyntheticOptions& data) {
  command.add_option("--n", data.n, "Base vectors (ids 0..n-1)")->required();
  command.add_option("--dim", data.dim, "Dims per vector")->required();
  command.add_option("--seed", data.seed, "Every vector follows from it")->capture_default_str();
  command.add_option("--queries", data.queries, "Query vectors")->capture_default_str();
  command.add_option("--clusters", data.clusters, "Cluster centres (0 = sqrt(n), at most 4096)")
      ->capture_default_str();
  command.add_option("--noise", data.noise, "Spread around a centre")->capture_default_str();
}

void AddServerFlags(CLI::App& command, adanns::bench::ScaleServer& target) {
  command.add_option("--server", target.server, "HOST:PORT of the server (loopback)")->required();
  command.add_option("--collection", target.collection, "Collection")->capture_default_str();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "A seeded synthetic collection larger than memory: ingest, ground truth, build, "
      "search (each phase resumable)"};
  app.require_subcommand(1);
  SyntheticOptions data;
  data.queries = 1000;

  adanns::bench::ScaleIngestOptions ingest;
  CLI::App* ingest_command = app.add_subcommand("ingest", "Create the collection and stream rows");
  AddDataFlags(*ingest_command, data);
  AddServerFlags(*ingest_command, ingest.target);
  ingest_command->add_option("--resident-dims", ingest.resident_dims, "0 = every dim")
      ->capture_default_str();
  ingest_command->add_option("--resident-precision", ingest.precision, "fp32, fp16 or int8")
      ->capture_default_str();
  ingest_command->add_option("--chunk", ingest.chunk_rows, "Rows per upsert stream")
      ->capture_default_str();

  adanns::bench::ScaleTruthOptions truth;
  CLI::App* truth_command = app.add_subcommand("truth", "Exact top-k by one streamed pass");
  AddDataFlags(*truth_command, data);
  truth_command->add_option("--out", truth.out_dir, "Folder for queries.npy, groundtruth.npy")
      ->required();
  truth_command->add_option("--k", truth.k, "Neighbours kept per query")->capture_default_str();
  truth_command->add_option("--chunk", truth.rows_per_chunk, "Rows per step")
      ->capture_default_str();

  adanns::bench::ScaleBuildOptions build;
  CLI::App* build_command = app.add_subcommand("build", "Build the IVF and wait for it");
  AddServerFlags(*build_command, build.target);
  build_command->add_option("--nlist", build.nlist, "0 = server default")->capture_default_str();
  build_command->add_option("--coarse-dims", build.coarse_dims, "0 = server default")
      ->capture_default_str();
  build_command->add_option("--search-dims", build.search_dims, "0 = server default")
      ->capture_default_str();
  build_command->add_option("--training-sample", build.training_sample, "0 = server default")
      ->capture_default_str();

  adanns::bench::ScaleSearchOptions search;
  std::vector<std::string> plans;
  CLI::App* search_command = app.add_subcommand("search", "Recall, QPS and p99 per plan");
  AddServerFlags(*search_command, search.target);
  search_command->add_option("--truth", search.truth_dir, "The truth phase's --out")->required();
  search_command->add_option("--plans", plans, "NPROBE:RERANK_CANDIDATES, comma-separated")
      ->delimiter(',')
      ->required();
  search_command->add_option("--k", search.k, "Hits per query")->capture_default_str();
  search_command->add_option("--queries", search.queries, "0 = all")->capture_default_str();
  search_command->add_option("--threads", search.threads, "Client threads")->capture_default_str();
  search_command->add_option("--repeat", search.repeat, "Interleaved passes")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (*ingest_command) {
    const auto result = adanns::bench::RunScaleIngest(data, ingest);
    if (!result.ok()) return Fail(result.status());
    std::printf(
        "{\"phase\": \"ingest\", \"n\": %llu, \"dim\": %u, \"resumed_from\": %llu, "
        "\"upserted\": %llu, \"seconds\": %.2f, \"vectors_per_s\": %.1f, \"mb_per_s\": %.1f}\n",
        static_cast<unsigned long long>(data.n), data.dim,
        static_cast<unsigned long long>(result->resumed_from),
        static_cast<unsigned long long>(result->upserted), result->seconds, result->vectors_per_s,
        result->mb_per_s);
  } else if (*truth_command) {
    const auto result = adanns::bench::RunScaleTruth(data, truth);
    if (!result.ok()) return Fail(result.status());
    std::printf(
        "{\"phase\": \"truth\", \"queries\": %u, \"k\": %u, \"seconds\": %.2f, "
        "\"full_rescans\": %llu}\n",
        data.queries, truth.k, result->seconds,
        static_cast<unsigned long long>(result->full_rescans));
  } else if (*build_command) {
    const auto result = adanns::bench::RunScaleBuild(build);
    if (!result.ok()) return Fail(result.status());
    std::printf(
        "{\"phase\": \"build\", \"already_ready\": %s, \"ready_seconds\": %.2f, "
        "\"settled_seconds\": %.2f}\n",
        result->already_ready ? "true" : "false", result->ready_seconds, result->settled_seconds);
  } else if (*search_command) {
    for (const std::string& text : plans) {
      const auto plan = adanns::bench::ParseScalePlan(text);
      if (!plan.ok()) return Fail(plan.status());
      search.plans.push_back(*plan);
    }
    const auto points = adanns::bench::RunScaleSearch(search);
    if (!points.ok()) return Fail(points.status());
    std::printf("{\"phase\": \"search\", \"threads\": %d, \"repeat\": %d, \"k\": %u, \"points\": [",
                search.threads, search.repeat, search.k);
    for (size_t i = 0; i < points->size(); ++i) {
      const auto& p = (*points)[i];
      std::printf(
          "%s\n  {\"nprobe\": %u, \"rerank_candidates\": %u, \"recall\": %.4f, \"qps\": %.1f, "
          "\"qps_min\": %.1f, \"qps_max\": %.1f, \"p50_us\": %.0f, \"p99_us\": %.0f, "
          "\"p99_us_min\": %.0f, \"p99_us_max\": %.0f, \"vectors_fetched\": %.1f, "
          "\"mflops\": %.3f}",
          i == 0 ? "" : ",", p.plan.nprobe, p.plan.rerank_candidates, p.recall, p.qps, p.qps_min,
          p.qps_max, p.p50_us, p.p99_us, p.p99_us_min, p.p99_us_max, p.vectors_fetched, p.mflops);
    }
    std::printf("]}\n");
  }
  return 0;
}
