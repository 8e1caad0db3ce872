// The default graph (see default_graph.h): build a prefix graph and a full-dim one, calibrate each
// alone, keep the faster at the target recall.
#include "index/default_graph.h"

#include <algorithm>
#include <vector>

#include "base/status_macros.h"
#include "index/calibration.h"

namespace adanns::index {
namespace {

constexpr uint32_t kComparedK = 10;
constexpr uint32_t kComparisonQueries = 100;

struct GraphScore {
  double latency_us = 0;
  double recall = 0;
  bool reaches = false;
};

// Calibrates `graph` alone (its ef sweep, no flat plans) and scores its fastest point reaching the
// target recall, else its best point.
absl::StatusOr<GraphScore> Score(const TableAccess& access, Metric metric, const HnswIndex& graph,
                                 uint32_t dim, const HeldOutRows& held_out,
                                 const Progress& progress, const std::atomic<bool>* cancel) {
  const ServedIndex* ready[] = {&graph};
  auto step_access = [&](const std::function<void(const CalibrationView&)>& step) {
    // No flat plans are calibrated here, so the nesting prefixes are not needed.
    access([&](const VectorTable& table) { step({table, ready, {dim, {}, table.size()}}); });
  };
  CalibrationOptions options;
  options.queries = kComparisonQueries;
  options.ks = {kComparedK};
  options.flat_plans = false;
  // Queries from the rows neither graph holds, when the build set some aside.
  if (!held_out.empty()) options.held_out = &held_out;
  ASSIGN_OR_RETURN(const Calibration calibration,
                   Calibrate(step_access, metric, options, progress, cancel));
  GraphScore score;
  for (const CalibrationPoint& point : calibration.frontiers.front().points) {
    const bool reaches = point.recall >= kDefaultGraphTargetRecall;
    const bool better = reaches ? !score.reaches || point.latency_us < score.latency_us
                                : !score.reaches && point.recall > score.recall;
    if (better) score = {point.latency_us, point.recall, reaches};
  }
  return score;
}

// Maps a sub-step's [0, 1] progress into [begin, end) of the whole build.
Progress Slice(const Progress& progress, double begin, double end) {
  if (!progress) return nullptr;
  return [progress, begin, end](double f) { progress(begin + f * (end - begin)); };
}

}  // namespace

uint32_t DefaultGraphDims(uint32_t dim, std::span<const uint32_t> nesting_dims) {
  const uint32_t floor = std::max(32u, dim / 4);
  for (const uint32_t dims : nesting_dims) {
    if (dims >= floor && dims < dim) return dims;
  }
  return dim;
}

absl::StatusOr<std::unique_ptr<HnswIndex>> BuildDefaultGraph(const TableAccess& access,
                                                             Metric metric, HnswBuildParams params,
                                                             int threads, const Progress& progress,
                                                             const std::atomic<bool>* cancel,
                                                             GraphChoice* choice,
                                                             const HeldOutRows& held_out) {
  uint32_t dim = 0, resident_dims = 0;
  size_t vectors = 0;
  access([&](const VectorTable& table) {
    dim = table.dim();
    resident_dims = table.resident_dims();
    vectors = table.size();
  });
  // On a tiered table the graph stays within the resident prefix, and there is no full-dim graph
  // to compare with (it would copy every full vector into memory).
  params.graph_dims = std::clamp(params.graph_dims, 1u, resident_dims);
  GraphChoice measured;
  measured.prefix_dims = params.graph_dims;
  measured.chosen_dims = params.graph_dims;
  const bool compare = params.graph_dims < dim && resident_dims == dim && vectors > kComparedK;
  ASSIGN_OR_RETURN(
      std::unique_ptr<HnswIndex> prefix,
      HnswIndex::Build(access, metric, params, threads,
                       compare ? Slice(progress, 0, 0.4) : progress, cancel, held_out));
  if (!compare) {
    if (choice != nullptr) *choice = measured;
    return prefix;
  }
  HnswBuildParams full_params = params;
  full_params.graph_dims = dim;
  ASSIGN_OR_RETURN(std::unique_ptr<HnswIndex> full,
                   HnswIndex::Build(access, metric, full_params, threads,
                                    Slice(progress, 0.4, 0.85), cancel, held_out));
  ASSIGN_OR_RETURN(const GraphScore prefix_score, Score(access, metric, *prefix, dim, held_out,
                                                        Slice(progress, 0.85, 0.93), cancel));
  ASSIGN_OR_RETURN(const GraphScore full_score,
                   Score(access, metric, *full, dim, held_out, Slice(progress, 0.93, 1.0), cancel));
  measured.prefix_latency_us = prefix_score.latency_us;
  measured.prefix_recall = prefix_score.recall;
  measured.full_latency_us = full_score.latency_us;
  measured.full_recall = full_score.recall;
  // The prefix graph must earn its place: reach the target at least as fast as the full one, or
  // (when neither reaches it) at least its recall.
  const bool keep_prefix =
      prefix_score.reaches ? !full_score.reaches || prefix_score.latency_us <= full_score.latency_us
                           : !full_score.reaches && prefix_score.recall >= full_score.recall;
  measured.chosen_dims = keep_prefix ? params.graph_dims : dim;
  if (choice != nullptr) *choice = measured;
  return keep_prefix ? std::move(prefix) : std::move(full);
}

}  // namespace adanns::index
