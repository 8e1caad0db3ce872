#include "bench/harness/runner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/harness/params.h"
#include "bench/harness/recall.h"
#include "bench/threads.h"

namespace adanns::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Searches queries [first, first + n) into their slots of `ids` and `work`.
void SearchRange(const BuiltIndex& index, const BenchData& data, const RunOptions& options,
                 size_t first, size_t n, int64_t* ids, QueryWork* work) {
  const float* queries = data.queries.row(first);
  if (options.batch <= 1) {
    for (size_t i = 0; i < n; ++i) {
      index.Search(queries + i * data.queries.cols, options.k, ids + (first + i) * options.k,
                   &work[first + i]);
    }
  } else {
    index.SearchBatch(queries, n, options.k, std::max(options.threads, 1), ids + first * options.k,
                      work + first);
  }
}

// Build and search keys share the JSON "params" object, so a key may not be in both.
absl::StatusOr<Params> MergeParams(const Params& build, const Params& search) {
  Params merged = build;
  for (const auto& [key, value] : search) {
    if (!merged.emplace(key, value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", key, "' is both a build and a search parameter"));
    }
  }
  return merged;
}

int BuildThreads(const RunOptions& options) {
  if (options.build_threads > 0) return options.build_threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

class Sweep {
 public:
  Sweep(const BenchData& data, const RunOptions& options, std::FILE* progress)
      : data_(data), options_(options), progress_(progress), start_(Clock::now()) {}

  void RunMethod(const MethodRun& run) {
    const std::string name = run.method->name();
    if (run.grid.builds.empty() || run.grid.searches.empty()) {
      Fail(name, {}, absl::InvalidArgumentError("its grid has no build or no search point"));
      return;
    }
    for (const Params& build : run.grid.builds) {
      std::unique_ptr<BuiltIndex> index;
      BuildStats stats;
      if (!Build(*run.method, build, &index, &stats)) continue;
      SetComputeThreads(options_.threads);
      for (const Params& search : run.grid.searches)
        SearchPoint(name, build, search, *index, stats);
    }
  }

  RunResult Take() { return std::move(result_); }

 private:
  bool Build(const Method& method, const Params& build, std::unique_ptr<BuiltIndex>* index,
             BuildStats* stats) {
    SetComputeThreads(BuildThreads(options_));
    const auto begin = Clock::now();
    absl::StatusOr<std::unique_ptr<BuiltIndex>> built =
        method.Build(data_, build, BuildThreads(options_), stats);
    stats->build_s = Seconds(begin, Clock::now());
    if (!built.ok()) {
      Fail(method.name(), build, built.status());
      return false;
    }
    *index = *std::move(built);
    (*index)->set_query_dim(static_cast<uint32_t>(data_.queries.cols));
    double total = 0;
    for (const auto& [component, bytes] : stats->bytes_per_vector) total += bytes;
    stats->bytes_per_vector["total"] = total;
    Log("%-12s build %s: %.2f s, %.0f bytes/vector\n", method.name().c_str(),
        Describe(build).c_str(), stats->build_s, total);
    return true;
  }

  void SearchPoint(const std::string& name, const Params& build, const Params& search,
                   BuiltIndex& index, const BuildStats& stats) {
    absl::StatusOr<Params> merged = MergeParams(build, search);
    const absl::Status status = merged.ok() ? index.SetSearchParams(search) : merged.status();
    if (!status.ok()) {
      Fail(name, merged.ok() ? *merged : search, status);
      return;
    }
    PointResult point;
    static_cast<PointMeasurement&>(point) = MeasurePoint(index, data_, options_);
    point.method = name;
    point.params = *std::move(merged);
    point.build = stats;
    Log("%-12s %-44s recall %.4f  qps %10.1f  p50 %9.1f us  (%zu queries)\n", name.c_str(),
        Describe(point.params).c_str(), point.recall, point.qps, point.p50_us, point.queries);
    result_.points.push_back(std::move(point));
  }

  void Fail(const std::string& method, const Params& params, const absl::Status& status) {
    std::string message = absl::StrCat(method, " ", Describe(params), ": ", status.ToString());
    Log("ERROR %s\n", message.c_str());
    result_.errors.push_back(std::move(message));
  }

  static std::string Describe(const Params& params) {
    return params.empty() ? "(defaults)" : FormatParams(params);
  }

  template <typename... Args>
  void Log(const char* format, Args... args) {
    if (progress_ == nullptr) return;
    std::fprintf(progress_, "[%7.1f s] ", Seconds(start_, Clock::now()));
    std::fprintf(progress_, format, args...);
    std::fflush(progress_);
  }

  const BenchData& data_;
  const RunOptions& options_;
  std::FILE* progress_;
  Clock::time_point start_;
  RunResult result_;
};

}  // namespace

PointMeasurement MeasurePoint(const BuiltIndex& index, const BenchData& data,
                              const RunOptions& options) {
  const size_t total = data.queries.rows;
  const size_t batch = std::max<size_t>(options.batch, 1);
  std::vector<int64_t> ids(total * options.k, -1);
  std::vector<QueryWork> work(total);
  SearchRange(index, data, options, 0, std::min(options.warmup_queries, total), ids.data(),
              work.data());

  // Queries always run in file order, so a capped point is the same prefix on every run.
  std::vector<double> latencies_us;
  size_t done = 0;
  const auto begin = Clock::now();
  auto now = begin;
  while (done < total && (done == 0 || Seconds(begin, now) < options.max_seconds_per_point)) {
    const size_t n = std::min(batch, total - done);
    const auto before = Clock::now();
    SearchRange(index, data, options, done, n, ids.data(), work.data());
    now = Clock::now();
    latencies_us.push_back(Seconds(before, now) * 1e6 / static_cast<double>(n));
    done += n;
  }
  const double wall_s = Seconds(begin, now);

  PointMeasurement m;
  m.queries = done;
  double recall_sum = 0;
  double id_recall_sum = 0;
  double flops_sum = 0;
  double scanned_sum = 0;
  for (size_t i = 0; i < done; ++i) {
    const int64_t* returned = ids.data() + i * options.k;
    recall_sum += DistanceRecallAtK(returned, data.groundtruth.row(i), options.k,
                                    data.queries.row(i), data.base, data.metric);
    id_recall_sum += RecallAtK(returned, data.groundtruth.row(i), options.k);
    flops_sum += work[i].flops;
    scanned_sum += static_cast<double>(work[i].vectors_scanned);
  }
  const auto count = static_cast<double>(std::max<size_t>(done, 1));
  m.recall = recall_sum / count;
  m.id_recall = id_recall_sum / count;
  m.qps = wall_s > 0 ? static_cast<double>(done) / wall_s : 0;
  m.p50_us = Percentile(latencies_us, 0.50);
  m.p99_us = Percentile(latencies_us, 0.99);
  m.mflops_per_query = flops_sum / count / 1e6;
  m.vectors_scanned_per_query = scanned_sum / count;
  return m;
}

RunResult RunMethods(const BenchData& data, const std::vector<MethodRun>& runs,
                     const RunOptions& options, std::FILE* progress) {
  Sweep sweep(data, options, progress);
  for (const MethodRun& run : runs) sweep.RunMethod(run);
  return sweep.Take();
}

}  // namespace adanns::bench
