#include "bench/run_command.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/metric.h"
#include "base/status_macros.h"
#include "bench/harness/bench_data.h"
#include "bench/harness/grid_file.h"
#include "bench/harness/machine_info.h"
#include "bench/harness/method.h"
#include "bench/harness/plot.h"
#include "bench/harness/report.h"
#include "bench/harness/runner.h"

namespace adanns::bench {
namespace {

absl::StatusOr<std::vector<std::unique_ptr<Method>>> CreateMethods(const std::string& list) {
  std::vector<std::unique_ptr<Method>> methods;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    const std::string name(absl::StripAsciiWhitespace(item));
    if (name.empty()) continue;
    for (const auto& method : methods) {
      if (method->name() == name) {
        return absl::InvalidArgumentError(absl::StrCat("method '", name, "' listed twice"));
      }
    }
    absl::StatusOr<std::unique_ptr<Method>> method = CreateMethod(name);
    if (!method.ok()) return absl::InvalidArgumentError(method.status().message());
    methods.push_back(*std::move(method));
  }
  if (methods.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--methods is empty (known: ", absl::StrJoin(MethodNames(), ", "), ")"));
  }
  return methods;
}

// A grid file naming a method nobody registered is a typo, not something to skip silently.
absl::StatusOr<GridFile> LoadGrid(const std::string& path) {
  if (path.empty()) return GridFile{};
  ASSIGN_OR_RETURN(GridFile grid, ReadGridFile(path));
  const std::vector<std::string> known = MethodNames();
  for (const auto& [name, entry] : grid) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown method '", name, "' (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return grid;
}

RunMeta MakeMeta(const BenchData& data, const RunOptions& options, const std::string& commit) {
  RunMeta meta;
  meta.dataset = data.name;
  meta.metric = std::string(MetricName(data.metric));
  meta.n = data.base.rows;
  meta.dim = data.base.cols;
  meta.queries = data.queries.rows;
  meta.k = options.k;
  meta.cpu = CpuModel();
  meta.cpu_flags = CpuFlags();
  meta.commit = commit;
  meta.clean = IsCleanCommit(commit);
  meta.threads = options.threads;
  meta.query_threads = options.query_threads;
  meta.batch = options.batch;
  meta.max_seconds_per_point = options.max_seconds_per_point;
  meta.repeat = options.repeat;
  meta.huge_pages = std::string(HugePagePolicyName(options.huge_pages));
  meta.thp_mode = TransparentHugePageMode();
  meta.anon_huge_pages_bytes = AnonHugePagesBytes();
  meta.peak_rss_bytes = PeakRssBytes();
  meta.interleaved_methods = options.interleave_methods;
  return meta;
}

// Writes every requested output, printing each failure; fails after trying them all.
absl::Status WriteReports(const RunArgs& args, const RunMeta& meta, const RunResult& result) {
  int failures = 0;
  auto note = [&](const absl::Status& status) {
    if (!status.ok()) {
      std::fprintf(stderr, "run: %s\n", status.ToString().c_str());
      ++failures;
    }
  };
  note(WriteTextFile(args.json_out, ReportJson(meta, result.points)));
  if (!args.csv_out.empty()) note(WriteTextFile(args.csv_out, ReportCsv(result.points)));
  const std::string table = ComparisonTable(meta, result.points);
  std::printf("%s", table.c_str());
  note(WriteTextFile(args.json_out + ".table.txt", table));
  if (!args.plot_out.empty()) note(WritePlot(meta, result.points, args.plot_out));
  if (failures > 0) {
    return absl::InternalError(absl::StrCat(failures, " report(s) not written (see above)"));
  }
  return absl::OkStatus();
}

absl::Status RunBench(const RunArgs& args) {
  const std::string commit = SourceCommit(ADANNS_SOURCE_DIR);
  RETURN_IF_ERROR(CheckCleanTree(commit, args.allow_dirty));
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Method>> methods, CreateMethods(args.methods));
  ASSIGN_OR_RETURN(const GridFile grid_file, LoadGrid(args.grid_file));
  RunOptions options;
  options.k = args.k;
  options.threads = args.threads;
  options.batch = args.batch;
  options.max_seconds_per_point = args.max_seconds_per_point;
  options.repeat = args.repeat;
  if (args.query_threads > 1 && args.batch > 1) {
    return absl::InvalidArgumentError(
        "--query-threads runs one query per call in each thread: it needs --batch 1");
  }
  options.query_threads = args.query_threads;
  ASSIGN_OR_RETURN(options.huge_pages, ParseHugePagePolicy(args.huge_pages));
  options.interleave_methods = !args.one_method_at_a_time;

  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(const BenchData data, LoadBenchData(args.data, args.queries));
  if (args.k == 0 || args.k > data.groundtruth.cols) {
    return absl::InvalidArgumentError(absl::StrCat("--k ", args.k, " must be in 1..",
                                                   data.groundtruth.cols,
                                                   " (the ground truth's neighbours per query)"));
  }
  std::fprintf(
      stderr, "[run] %s: %llu x %llu %s, %llu queries, k=%u, %d thread(s), batch %zu\n",
      data.name.c_str(), static_cast<unsigned long long>(data.base.rows),
      static_cast<unsigned long long>(data.base.cols), std::string(MetricName(data.metric)).c_str(),
      static_cast<unsigned long long>(data.queries.rows), args.k, args.threads, args.batch);

  std::vector<MethodRun> runs;
  for (const auto& method : methods) {
    const auto entry = grid_file.find(method->name());
    runs.push_back(
        {method.get(), ApplyGridOverride(method->DefaultGrid(data),
                                         entry == grid_file.end() ? nullptr : &entry->second)});
  }
  const RunResult result = RunMethods(data, runs, options, stderr);
  const absl::Status written = WriteReports(args, MakeMeta(data, options, commit), result);
  std::fprintf(stderr, "[run] %zu points, %zu errors, %.1f s in all\n", result.points.size(),
               result.errors.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!result.errors.empty()) {
    return absl::AbortedError(
        absl::StrCat(result.errors.size(),
                     " build or search point(s) failed: ", absl::StrJoin(result.errors, "; ")));
  }
  return written;
}

}  // namespace

absl::Status CheckCleanTree(const std::string& commit, bool allow_dirty) {
  if (IsCleanCommit(commit) || allow_dirty) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the source tree is not a clean commit (", commit,
      "): commit first, or pass --allow-dirty (the report then says \"clean\": false)"));
}

int RunBenchCommand(const RunArgs& args) {
  const absl::Status status = RunBench(args);
  if (!status.ok()) {
    std::fprintf(stderr, "run: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace adanns::bench
