#include "bench/harness/runner.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/harness/params.h"
#include "bench/harness/recall.h"
#include "bench/harness/report.h"
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

// One built index of a method and the search points it is measured at.
struct BuiltEntry {
  std::string method;
  Params build;
  BuildStats stats;
  std::unique_ptr<BuiltIndex> index;
  const std::vector<Params>* searches = nullptr;
};

// One (built index, search point) pair and its repeated measurements.
struct PointSlot {
  size_t entry = 0;
  size_t position = 0;  // in the entry's search list
  Params search;
  Params merged;
  bool failed = false;
  std::vector<PointMeasurement> runs;
  std::string plan;              // BuiltIndex::PointPlan, set in round 0
  bool is_budget = false;        // BuiltIndex::PointIsBudget, set in round 0
  std::optional<size_t> leader;  // an earlier slot of the same build with the same plan
};

class Sweep {
 public:
  Sweep(const BenchData& data, const RunOptions& options, std::FILE* progress)
      : data_(data), options_(options), progress_(progress), start_(Clock::now()) {}

  // Builds every method of the group, measures every point `repeat` times interleaved across
  // the group (round r: each index's point p, p = 0, 1, ...), records medians, frees the indexes.
  void RunGroup(const std::vector<const MethodRun*>& group) {
    std::vector<BuiltEntry> entries;
    for (const MethodRun* run : group) {
      const std::string name = run->method->name();
      if (run->grid.builds.empty() || run->grid.searches.empty()) {
        Fail(name, {}, absl::InvalidArgumentError("its grid has no build or no search point"));
        continue;
      }
      for (const Params& build : run->grid.builds) {
        BuiltEntry entry{name, build, {}, nullptr, &run->grid.searches};
        if (Build(*run->method, build, &entry.index, &entry.stats)) {
          entries.push_back(std::move(entry));
        }
      }
    }
    std::vector<PointSlot> slots;
    size_t most_points = 0;
    for (size_t e = 0; e < entries.size(); ++e) {
      most_points = std::max(most_points, entries[e].searches->size());
      for (size_t position = 0; position < entries[e].searches->size(); ++position) {
        const Params& search = (*entries[e].searches)[position];
        absl::StatusOr<Params> merged = MergeParams(entries[e].build, search);
        if (!merged.ok()) {
          Fail(entries[e].method, search, merged.status());
          continue;
        }
        PointSlot slot;
        slot.entry = e;
        slot.position = position;
        slot.search = search;
        slot.merged = *std::move(merged);
        slots.push_back(std::move(slot));
      }
    }
    SetComputeThreads(options_.threads);
    const int repeat = std::max(options_.repeat, 1);
    for (int round = 0; round < repeat; ++round) {
      for (size_t position = 0; position < most_points; ++position) {
        for (size_t s = 0; s < slots.size(); ++s) {
          if (slots[s].position == position) Measure(slots, s, entries[slots[s].entry], round);
        }
      }
    }
    Report(slots, entries);
  }

  RunResult Take() { return std::move(result_); }

 private:
  // Measures slots[s] once; in round 0 it first learns the point's plan, and a point whose plan
  // an earlier point of the same build already runs is not measured again (it shares those runs).
  void Measure(std::vector<PointSlot>& slots, size_t s, BuiltEntry& entry, int round) {
    PointSlot& slot = slots[s];
    if (slot.failed || slot.leader.has_value()) return;
    if (const absl::Status status = entry.index->SetSearchParams(slot.search); !status.ok()) {
      Fail(entry.method, slot.merged, status);
      slot.failed = true;
      return;
    }
    if (round == 0) {
      slot.plan = entry.index->PointPlan(options_.k);
      slot.is_budget = entry.index->PointIsBudget();
      for (size_t earlier = 0; earlier < s && !slot.plan.empty(); ++earlier) {
        const PointSlot& other = slots[earlier];
        if (other.entry == slot.entry && !other.failed && !other.leader.has_value() &&
            other.plan == slot.plan) {
          slot.leader = earlier;
          Log("%-12s %-44s same plan as %s (%s): measured once\n", entry.method.c_str(),
              Describe(slot.merged).c_str(), Describe(other.merged).c_str(), slot.plan.c_str());
          return;
        }
      }
    }
    slot.runs.push_back(MeasurePoint(*entry.index, data_, options_));
    const PointMeasurement& m = slot.runs.back();
    Log("%-12s %-44s recall %.4f  qps %10.1f  p50 %9.1f us  (%zu queries, run %d)\n",
        entry.method.c_str(), Describe(slot.merged).c_str(), m.recall, m.qps, m.p50_us, m.queries,
        round + 1);
  }

  // One point per measured slot (the medians of its runs). A slot that shared an earlier slot's
  // plan is a row of its own when it asked for a budget (each requested target keeps its row,
  // with the plan it got), else it is listed in that point's same_plan.
  void Report(const std::vector<PointSlot>& slots, const std::vector<BuiltEntry>& entries) {
    std::map<size_t, size_t> point_of_slot;
    for (size_t s = 0; s < slots.size(); ++s) {
      const PointSlot& slot = slots[s];
      const size_t measured = slot.leader.value_or(s);
      if (slot.failed || slots[measured].runs.empty()) continue;
      if (slot.leader.has_value() && !slot.is_budget) {
        const auto leader_point = point_of_slot.find(measured);
        if (leader_point != point_of_slot.end()) {
          result_.points[leader_point->second].same_plan.push_back(slot.search);
        }
        continue;
      }
      PointResult point;
      static_cast<PointMeasurement&>(point) = MedianOf(slots[measured].runs);
      point.method = entries[slot.entry].method;
      point.params = slot.merged;
      point.build = entries[slot.entry].stats;
      point.plan = slot.plan;
      point_of_slot[s] = result_.points.size();
      result_.points.push_back(std::move(point));
    }
  }

  bool Build(const Method& method, const Params& build, std::unique_ptr<BuiltIndex>* index,
             BuildStats* stats) {
    SetComputeThreads(BuildThreads(options_));
    const uint64_t huge_before = AnonHugePagesBytes();
    const auto begin = Clock::now();
    absl::StatusOr<std::unique_ptr<BuiltIndex>> built =
        method.Build(data_, build, BuildThreads(options_), stats);
    stats->build_s = Seconds(begin, Clock::now());
    if (!built.ok()) {
      Fail(method.name(), build, built.status());
      return false;
    }
    // Outside the build's time: the same treatment for every method (a baseline's arrays too).
    stats->memory_treatment = TreatBuiltMemory(options_.huge_pages);
    if (options_.huge_pages == HugePagePolicy::kOurs) {
      stats->memory_treatment = IsBaseline(method.name())
                                    ? "not advised (ours-only mode)"
                                    : "advised by the method (ours-only mode)";
    }
    stats->anon_huge_pages_bytes =
        static_cast<double>(AnonHugePagesBytes()) - static_cast<double>(huge_before);
    *index = *std::move(built);
    (*index)->set_query_dim(static_cast<uint32_t>(data_.queries.cols));
    double total = 0;
    for (const auto& [component, bytes] : stats->bytes_per_vector) total += bytes;
    stats->bytes_per_vector["total"] = total;
    Log("%-12s build %s: %.2f s, %.0f bytes/vector, huge pages %s (+%.0f MiB)\n",
        method.name().c_str(), Describe(build).c_str(), stats->build_s, total,
        stats->memory_treatment.c_str(), stats->anon_huge_pages_bytes / (1 << 20));
    return true;
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

namespace {

// One query thread's share of a point: queries [first, last), `done` of them measured.
struct Slice {
  size_t first = 0;
  size_t last = 0;
  size_t done = 0;
  std::vector<double> latencies_us;
};

// Runs the slice's queries in order, `batch` at a time, timing each call, and stops after the
// first whole call that ends past the time cap (counted from `begin`).
void RunSlice(const BuiltIndex& index, const BenchData& data, const RunOptions& options,
              size_t batch, Clock::time_point begin, int64_t* ids, QueryWork* work, Slice& slice) {
  auto now = begin;
  while (slice.first + slice.done < slice.last &&
         (slice.done == 0 || Seconds(begin, now) < options.max_seconds_per_point)) {
    const size_t n = std::min(batch, slice.last - slice.first - slice.done);
    const auto before = Clock::now();
    SearchRange(index, data, options, slice.first + slice.done, n, ids, work);
    now = Clock::now();
    slice.latencies_us.push_back(Seconds(before, now) * 1e6 / static_cast<double>(n));
    slice.done += n;
  }
}

}  // namespace

PointMeasurement MeasurePoint(const BuiltIndex& index, const BenchData& data,
                              const RunOptions& options) {
  const size_t total = data.queries.rows;
  const size_t batch = std::max<size_t>(options.batch, 1);
  std::vector<int64_t> ids(total * options.k, -1);
  std::vector<QueryWork> work(total);
  SearchRange(index, data, options, 0, std::min(options.warmup_queries, total), ids.data(),
              work.data());

  // Query threads take disjoint contiguous slices; each runs its slice in file order, so a capped
  // point is the same prefix of every slice on every run.
  const size_t threads = std::clamp<size_t>(options.query_threads, 1, std::max<size_t>(total, 1));
  std::vector<Slice> slices(threads);
  for (size_t t = 0; t < threads; ++t) {
    slices[t].first = total * t / threads;
    slices[t].last = total * (t + 1) / threads;
  }
  const std::optional<BlockCacheCounters> cache_before = index.block_cache_counters();
  const auto begin = Clock::now();
  const auto run = [&](Slice& slice) {
    RunSlice(index, data, options, batch, begin, ids.data(), work.data(), slice);
  };
  if (threads == 1) {
    run(slices[0]);
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(slices.size());
    for (Slice& slice : slices) pool.emplace_back(run, std::ref(slice));
  }  // joins
  const double wall_s = Seconds(begin, Clock::now());

  PointMeasurement m;
  std::vector<double> latencies_us;
  std::vector<size_t> measured;
  for (const Slice& slice : slices) {
    latencies_us.insert(latencies_us.end(), slice.latencies_us.begin(), slice.latencies_us.end());
    for (size_t i = slice.first; i < slice.first + slice.done; ++i) measured.push_back(i);
  }
  const size_t done = measured.size();
  m.queries = done;
  double recall_sum = 0;
  double id_recall_sum = 0;
  double flops_sum = 0;
  double scanned_sum = 0;
  double fetched_sum = 0;
  for (const size_t i : measured) {
    const int64_t* returned = ids.data() + i * options.k;
    recall_sum += DistanceRecallAtK(returned, data.groundtruth.row(i), options.k,
                                    data.queries.row(i), data.base, data.metric);
    id_recall_sum += RecallAtK(returned, data.groundtruth.row(i), options.k);
    flops_sum += work[i].flops;
    scanned_sum += static_cast<double>(work[i].vectors_scanned);
    fetched_sum += static_cast<double>(work[i].vectors_fetched);
  }
  const auto count = static_cast<double>(std::max<size_t>(done, 1));
  m.recall = recall_sum / count;
  m.id_recall = id_recall_sum / count;
  m.qps = wall_s > 0 ? static_cast<double>(done) / wall_s : 0;
  m.p50_us = Percentile(latencies_us, 0.50);
  m.p99_us = Percentile(latencies_us, 0.99);
  m.mflops_per_query = flops_sum / count / 1e6;
  m.vectors_scanned_per_query = scanned_sum / count;
  m.vectors_fetched_per_query = fetched_sum / count;
  if (const std::optional<BlockCacheCounters> after = index.block_cache_counters();
      after.has_value() && cache_before.has_value()) {
    const double hits = double(after->hits - cache_before->hits);
    const double lookups = hits + double(after->misses - cache_before->misses);
    m.block_cache_hit_ratio = lookups > 0 ? hits / lookups : NAN;
  }
  m.qps_min = m.qps_max = m.qps;
  m.p50_us_min = m.p50_us_max = m.p50_us;
  m.p99_us_min = m.p99_us_max = m.p99_us;
  return m;
}

PointMeasurement MedianOf(const std::vector<PointMeasurement>& runs) {
  PointMeasurement m;
  if (runs.empty()) return m;
  auto median = [&](double PointMeasurement::*field) {
    std::vector<double> values;
    values.reserve(runs.size());
    for (const PointMeasurement& run : runs) values.push_back(run.*field);
    std::sort(values.begin(), values.end());
    const size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  };
  auto spread = [&](double PointMeasurement::*field, double* low, double* high) {
    const auto [min, max] = std::minmax_element(
        runs.begin(), runs.end(),
        [&](const PointMeasurement& a, const PointMeasurement& b) { return a.*field < b.*field; });
    *low = (*min).*field;
    *high = (*max).*field;
  };
  m.queries = runs.front().queries;
  for (const PointMeasurement& run : runs) m.queries = std::min(m.queries, run.queries);
  for (double PointMeasurement::*field :
       {&PointMeasurement::recall, &PointMeasurement::id_recall, &PointMeasurement::qps,
        &PointMeasurement::p50_us, &PointMeasurement::p99_us, &PointMeasurement::mflops_per_query,
        &PointMeasurement::vectors_scanned_per_query, &PointMeasurement::vectors_fetched_per_query,
        &PointMeasurement::block_cache_hit_ratio}) {
    m.*field = median(field);
  }
  spread(&PointMeasurement::qps, &m.qps_min, &m.qps_max);
  spread(&PointMeasurement::p50_us, &m.p50_us_min, &m.p50_us_max);
  spread(&PointMeasurement::p99_us, &m.p99_us_min, &m.p99_us_max);
  m.repeats = static_cast<int>(runs.size());
  return m;
}

RunResult RunMethods(const BenchData& data, const std::vector<MethodRun>& runs,
                     const RunOptions& options, std::FILE* progress) {
  ApplyHugePageSwitch(options.huge_pages);
  Sweep sweep(data, options, progress);
  if (options.interleave_methods) {
    std::vector<const MethodRun*> all;
    all.reserve(runs.size());
    for (const MethodRun& run : runs) all.push_back(&run);
    sweep.RunGroup(all);
  } else {
    for (const MethodRun& run : runs) sweep.RunGroup({&run});
  }
  return sweep.Take();
}

}  // namespace adanns::bench
