// adanns-serve-load command line: parses the flags, runs the load test against a loopback server,
// prints the table and optionally writes the JSON report.
#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "bench/serve_load/serve_load.h"

int main(int argc, char** argv) {
  adanns::bench::ServeLoadOptions options;
  CLI::App app{"End-to-end Search / SearchBatch load against a running adanns server (loopback)"};
  app.add_option("--server", options.server, "HOST:PORT of the server (loopback only)")->required();
  app.add_option("--data", options.data_dir, "Prepared data set folder (adanns-bench prepare)")
      ->required();
  app.add_option("--collection", options.collection, "Collection to (re)create and search")
      ->capture_default_str();
  app.add_option("--queries", options.queries, "Queries used")->capture_default_str();
  app.add_option("--k", options.k, "Hits per query")->capture_default_str();
  app.add_option("--concurrency", options.concurrency, "Client threads, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "Duration of each measurement")
      ->capture_default_str();
  app.add_option("--batch", options.batch, "Queries per SearchBatch request")
      ->capture_default_str();
  uint32_t search_dims = 0;
  uint32_t rerank_candidates = 0;
  uint32_t nprobe = 0;
  CLI::Option* search_dims_flag =
      app.add_option("--search-dims", search_dims, "Plan: scan prefix (default: index default)");
  CLI::Option* rerank_flag = app.add_option("--rerank-candidates", rerank_candidates,
                                            "Plan: re-rank candidates (turns the re-rank on)");
  app.add_option("--index", options.index, "Plan index: flat, ivf, or \"\" (automatic)")
      ->capture_default_str();
  CLI::Option* nprobe_flag = app.add_option("--nprobe", nprobe, "Plan: IVF lists probed");
  app.add_flag("--skip-ingest", options.skip_ingest,
               "Search the existing collection; no drop, upsert or index build");
  app.add_option("--json", options.json_path, "Write the report as JSON to this file");
  app.add_option("--build", options.build,
                 "Index built after the ingest: ivf, default (the server's default index), or "
                 "empty (the IVF when --index ivf)");
  app.add_option("--mixed-seconds", options.mixed_seconds,
                 "Mixed load: seconds of searches alone, then as many under a stream of upserts "
                 "(0 = skipped)")
      ->capture_default_str();
  app.add_option("--mixed-search-threads", options.mixed_search_threads,
                 "Mixed load: search clients")
      ->capture_default_str();
  app.add_option("--mixed-message", options.mixed_message,
                 "Mixed load: vectors per upserted message")
      ->capture_default_str();
  app.add_option("--dd-dir", options.dd_dir,
                 "Folder on the server's disk where dd measures its synced write bandwidth "
                 "(1 GiB, removed after)");
  CLI11_PARSE(app, argc, argv);
  if (*search_dims_flag) options.search_dims = search_dims;
  if (*rerank_flag) options.rerank_candidates = rerank_candidates;
  if (*nprobe_flag) options.nprobe = nprobe;

  const auto report = adanns::bench::RunServeLoad(options);
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::fputs(adanns::bench::FormatReport(options, *report).c_str(), stdout);
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path);
    out << adanns::bench::ReportJson(options, *report);
    if (!out.good()) {
      std::fprintf(stderr, "error: cannot write %s\n", options.json_path.c_str());
      return 1;
    }
  }
  return 0;
}
