// Calibration sweeps (see calibration.h): given, held-out or sampled queries, exact truth and the
// Pareto frontier of each plan group, measured in short holds of the collection (the plan grid is
// in calibration_grid.cc, the frontier's helpers and its blob in calibration_frontier.cc).
#include "index/calibration.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/flat_search.h"
#include "index/reference_distance.h"
#include "index/stage_scorer.h"
#include "index/topk.h"

namespace adanns::index {
namespace {

// Every plan runs first on this many queries; only plans not clearly beaten there run on all.
constexpr size_t kPilotQueries = 32;
// "Clearly": another plan as cheap or cheaper with this much more pilot recall.
constexpr double kPruneMargin = 0.05;
// Calibration queries measured per step (one hold of the collection). A step also ends once its
// queries cost kStepMflops or took kStepMicros (a full-dim flat scan of a large table, or graph
// beams at a high ef: 16 of them held it for 90 ms): no step holds the table for long.
constexpr size_t kQueriesPerStep = 16;
constexpr double kStepMflops = 20;
constexpr double kStepMicros = 2000;
// Rows of the exact truth scanned per step (16384 x 768 floats: about 50 MB, a few ms), over one
// pass's queries, at most kTruthQueriesPerPass: a step of one scorer block of rows for each stays
// within that (all 800 queries of a sample in one pass held the table ~100 ms per step).
constexpr size_t kTruthRowsPerStep = 16384;
constexpr size_t kTruthQueriesPerPass = kTruthRowsPerStep / kScorerBlockRows;
// A tiered table's step reads its rows' full vectors from storage first: fewer per step, so the
// read (one MultiGet) stays short and its buffer small (2048 x 768 floats = 6 MiB).
constexpr size_t kTieredTruthRowsPerStep = 2048;
// Stored twins of a self-query (IsTwin) the truth scan looks past; a query with more keeps the
// rest in its truth.
constexpr size_t kMaxTwins = 8;
// Held-out rows the truth scan looks past (they are not in the indexes measured); a query with
// more of them among its nearest gets a shorter truth (its recall then reads low, not high).
constexpr size_t kMaxHeldOutNeighbours = 16;
// `plan` with its candidate depths (re-rank candidates, graph beam) `extra` deeper.
Plan WidenedBy(Plan plan, uint32_t extra) {
  if (plan.rerank_candidates.has_value() && *plan.rerank_candidates > 0) {
    *plan.rerank_candidates += extra;
  }
  if (plan.ef.has_value()) *plan.ef += extra;
  return plan;
}

}  // namespace

absl::StatusOr<Calibration> Calibrate(const CalibrationAccess& access, Metric metric,
                                      const CalibrationOptions& options, const Progress& progress,
                                      const std::atomic<bool>* cancel) {
  if (options.ks.empty() || (options.queries == 0 && options.queries_given.empty())) {
    return absl::InvalidArgumentError("calibration needs at least one k and one query");
  }
  const uint32_t max_k = *std::max_element(options.ks.begin(), options.ks.end());
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };

  // Queries: the caller's, or stored vectors (held-out rows when given) sampled without
  // replacement, copied so that later steps do not depend on the table's rows. A sampled query
  // and its stored twins (exact or near duplicates, IsTwin) are left out of its truth and its
  // results: a real query has no neighbour at distance zero to hand it a free hit. Held-out rows
  // are left out of every query's truth and results: the indexes measured do not hold them.
  struct Query {
    std::span<const float> values;
    bool sampled = false;                 // a stored vector: its twins are looked for
    std::vector<uint64_t> excluded;       // itself and its twins
    uint32_t extra = 0;                   // of those, the ones the indexes hold (widening)
    std::vector<uint64_t> truth;          // max_k nearest others, nearest first
    std::vector<double> truth_distances;  // their ReferenceDistance, for the tie rule
    bool Excludes(uint64_t id) const {
      return std::find(excluded.begin(), excluded.end(), id) != excluded.end();
    }
  };
  if (options.held_out != nullptr && options.flat_plans) {
    return absl::InvalidArgumentError("held-out calibration queries need flat plans off");
  }
  const CalibrationSource source = !options.queries_given.empty() ? options.given_source
                                   : options.held_out != nullptr  ? CalibrationSource::kHeldOut
                                                                  : CalibrationSource::kSelf;
  absl::flat_hash_set<uint64_t> held_out_ids;
  std::vector<Query> queries;
  std::vector<float> sampled_values;
  std::vector<std::vector<Plan>> grids;
  absl::Status status;
  const size_t wanted = std::max<size_t>(options.queries, options.max_queries);
  uint32_t full_dim = 0;
  bool tiered = false;
  access([&](const CalibrationView& view) {
    const VectorTable& table = view.table;
    const uint32_t dim = table.dim();
    full_dim = dim;
    tiered = table.tiered();
    if (table.size() <= max_k) {
      status = absl::FailedPreconditionError(
          absl::StrCat("calibrating k = ", max_k, " needs more than ", max_k,
                       " vectors; the collection has ", table.size()));
      return;
    }
    if (!options.queries_given.empty()) {
      if (options.queries_given.size() % dim != 0) {
        status = absl::InvalidArgumentError(
            absl::StrCat("calibration queries must be whole vectors of ", dim, " floats"));
        return;
      }
      for (size_t q = 0; q < options.queries_given.size() / dim; ++q) {
        Query query;
        query.values = options.queries_given.subspan(q * dim, dim);
        queries.push_back(std::move(query));
      }
    } else {
      std::vector<RowId> live;
      if (options.held_out != nullptr) {
        for (const RowId row : options.held_out->rows()) {
          if (row >= table.row_count() || !table.IsLive(row)) continue;  // deleted meanwhile
          held_out_ids.insert(table.IdOf(row));
          if (options.query_rows == nullptr || options.query_rows->Contains(row)) {
            live.push_back(row);
          }
        }
      } else {
        for (size_t r = 0; r < table.row_count(); ++r) {
          if (table.IsLive(static_cast<RowId>(r))) live.push_back(static_cast<RowId>(r));
        }
      }
      const size_t sampled = std::min(wanted, live.size());
      std::mt19937_64 rng(options.seed);
      for (size_t i = 0; i < sampled; ++i) std::swap(live[i], live[i + rng() % (live.size() - i)]);
      live.resize(sampled);
      sampled_values.resize(sampled * dim);
      std::vector<uint8_t> found;
      status = table.ReadFullRows(live, sampled_values.data(), found);
      if (!status.ok()) return;
      for (size_t i = 0; i < sampled; ++i) {
        if (!found[i]) continue;  // deleted from storage, not yet from the table
        Query query;
        query.values = {&sampled_values[i * dim], dim};
        query.sampled = true;
        query.excluded = {table.IdOf(live[i])};
        queries.push_back(std::move(query));
      }
    }
    for (const uint32_t k : options.ks) {
      grids.push_back(CalibrationGrid(view.ready, view.shape, k, options.flat_plans));
    }
  });
  RETURN_IF_ERROR(status);
  if (queries.empty()) {
    return absl::FailedPreconditionError("no calibration queries: every held-out row was deleted");
  }
  if (!options.only_index.empty()) {
    for (std::vector<Plan>& grid : grids) {
      std::erase_if(grid,
                    [&](const Plan& plan) { return !PlanUsesIndex(plan, options.only_index); });
    }
  }
  const size_t count = queries.size();
  const size_t base = std::min<size_t>(count, std::max<uint32_t>(1, options.queries));

  // Exact truth at the full dim, in steps of about kTruthRowsPerStep rows' work: a writer waiting
  // for its exclusive hold behind a long step would hold up every search queued behind it. Rows
  // written between steps are seen by the steps after; an id moved meanwhile is counted once.
  // Computed for the base sample first, for the rest when the adaptive sample first needs it; one
  // pass over the rows for all of a sample's queries (a tiered table reads each step's full
  // vectors from storage once).
  struct Near {
    float distance;
    uint64_t id;
    double reference;  // ReferenceDistance
    bool twin;
  };
  const auto nearer = [](const Near& a, const Near& b) {
    return RanksBefore(a.distance, a.id, b.distance, b.id);
  };
  size_t truth_done = 0;
  // A tiered table's step: its rows' full vectors, read from storage in one batch.
  std::vector<RowId> step_rows;
  std::vector<float> step_values;
  std::vector<uint8_t> step_found;
  auto truth_pass = [&](size_t end) -> absl::Status {
    const size_t first = truth_done;
    if (first >= end) return absl::OkStatus();
    std::vector<std::vector<Near>> nearest(end - first);  // per query, over the steps so far
    // Per query: once `nearest` was cut to its best, the farthest of them (later rows beyond it
    // cannot enter).
    std::vector<float> kept_bound(end - first, HUGE_VALF);
    // Each step scores every query of the batch: its rows shrink with the batch, so that one hold
    // does about kTruthRowsPerStep rows' work (a multiple of the scorer's block).
    const size_t truth_rows_per_step =
        std::min(tiered ? kTieredTruthRowsPerStep : kTruthRowsPerStep,
                 std::max(kScorerBlockRows,
                          kTruthRowsPerStep / (end - first) / kScorerBlockRows * kScorerBlockRows));
    std::vector<StageScorer> scorers;
    scorers.reserve(end - first);
    for (size_t q = first; q < end; ++q) scorers.emplace_back(metric, queries[q].values, full_dim);
    absl::Status read_status;
    for (size_t begin = 0, rows = 1; begin < rows; begin += truth_rows_per_step) {
      if (cancelled()) return absl::CancelledError("calibration cancelled");
      access([&](const CalibrationView& view) {
        const VectorTable& table = view.table;
        rows = table.row_count();
        const size_t stop = std::min(rows, begin + truth_rows_per_step);
        if (table.tiered()) {
          step_rows.resize(stop - begin);
          for (size_t i = 0; i < step_rows.size(); ++i) step_rows[i] = RowId(begin + i);
          step_values.resize(step_rows.size() * full_dim);
          read_status = table.ReadFullRows(step_rows, step_values.data(), step_found);
          if (!read_status.ok()) return;
        }
        // Row r's full vector, and whether it counts (live, still stored).
        auto values_of = [&](RowId row) {
          return table.tiered() ? step_values.data() + (row - begin) * full_dim
                                : table.RowPrefix(row, full_dim, nullptr);  // fp32, in place
        };
        const size_t stride = table.tiered() ? full_dim : table.resident_dims();
        auto usable = [&](RowId row) {
          return table.IsLive(row) && (!table.tiered() || step_found[row - begin] != 0);
        };
        for (size_t q = 0; q < scorers.size(); ++q) {
          const Query& query = queries[first + q];
          const size_t keep = max_k + 2 + (query.sampled ? kMaxTwins : 0) +
                              std::min(held_out_ids.size(), kMaxHeldOutNeighbours);
          TopK top(keep);
          for (size_t block = begin; block < stop; block += kScorerBlockRows) {
            ScoreBlockInto(scorers[q], values_of(RowId(block)), stride,
                           std::min(kScorerBlockRows, stop - block), RowId(block), usable, top);
          }
          std::vector<Near>& near = nearest[q];
          for (const ScoredRow& row : top.TakeSorted()) {
            if (row.distance > kept_bound[q]) break;  // no nearer than what earlier steps kept
            const uint64_t id = table.IdOf(row.row);
            if (held_out_ids.contains(id)) continue;
            const float* values = values_of(row.row);
            near.push_back({row.distance, id,
                            ReferenceDistance(query.values.data(), values, full_dim, metric),
                            query.sampled && IsTwin(query.values.data(), values, full_dim)});
          }
          // Small steps would pile up every step's best: keep the `keep` nearest so far.
          if (near.size() >= 2 * keep) {
            std::nth_element(near.begin(), near.begin() + keep - 1, near.end(), nearer);
            near.resize(keep);
            kept_bound[q] = near[keep - 1].distance;
          }
        }
      });
      RETURN_IF_ERROR(read_status);
    }
    for (size_t q = 0; q < nearest.size(); ++q) {
      Query& query = queries[first + q];
      std::sort(nearest[q].begin(), nearest[q].end(), nearer);
      for (const Near& near : nearest[q]) {
        if (near.twin && !query.Excludes(near.id)) query.excluded.push_back(near.id);
        if (query.Excludes(near.id) || query.truth.size() == max_k ||
            std::find(query.truth.begin(), query.truth.end(), near.id) != query.truth.end()) {
          continue;
        }
        query.truth.push_back(near.id);
        query.truth_distances.push_back(near.reference);
      }
      // A held-out query is not in the indexes: only its twins take hits there.
      query.extra = static_cast<uint32_t>(query.excluded.size()) -
                    (query.sampled && options.held_out != nullptr ? 1 : 0);
    }
    truth_done = end;
    return absl::OkStatus();
  };
  // A tiered table reads every row's full vector from storage in each pass: it keeps one pass.
  const size_t queries_per_pass = tiered ? queries.size() : kTruthQueriesPerPass;
  auto compute_truth = [&](size_t end) -> absl::Status {
    while (truth_done < end) {
      RETURN_IF_ERROR(truth_pass(std::min(end, truth_done + queries_per_pass)));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(compute_truth(base));

  // Per-plan sums over the queries measured so far.
  struct Sums {
    CalibrationPoint point;  // recall and mflops hold sums
    double recall_squares = 0;
    std::vector<double> latencies_us;  // per query; the point keeps the median (preemption-proof)
    size_t measured = 0;
  };
  // Measures `requested` for k on queries [begin, end) in steps of kQueriesPerStep, adding to the
  // plan's sums; false when the plan no longer resolves (its index went away).
  std::vector<float> other_values;
  std::vector<uint8_t> other_found;
  auto measure = [&](const Plan& requested, uint32_t k, size_t begin, size_t end, Sums& sums) {
    bool resolved_ok = true;
    for (size_t first = begin; first < end && resolved_ok;) {
      access([&](const CalibrationView& view) {
        Budget budget;
        budget.plan = requested;
        const absl::StatusOr<Plan> resolved = ChoosePlan(budget, view.shape, k, view.ready);
        if (!resolved.ok()) {
          resolved_ok = false;
          return;
        }
        // A sampled query's twins (and a self-query itself) take hits (and candidate slots) a
        // real query would give to its neighbours: the plan asks for that many more, with as many
        // more candidates.
        std::map<uint32_t, absl::StatusOr<Plan>> widened;
        auto plan_for = [&](uint32_t extra) -> const Plan& {
          if (extra == 0) return *resolved;
          auto [it, added] = widened.try_emplace(extra, absl::UnknownError(""));
          if (added) {
            Budget wider;
            wider.plan = WidenedBy(requested, extra);
            it->second = ChoosePlan(wider, view.shape, k + extra, view.ready);
          }
          return it->second.ok() ? *it->second : *resolved;
        };
        const size_t last = std::min(end, first + kQueriesPerStep);
        double step_us = 0;
        for (double step_mflops = 0;
             first < last && step_mflops < kStepMflops && step_us < kStepMicros; ++first) {
          const Query& query = queries[first];
          const Plan& plan = plan_for(query.extra);
          const auto start = std::chrono::steady_clock::now();
          const SearchResult result =
              RunPlan(plan, view.table, metric, query.values, k + query.extra, view.ready);
          sums.latencies_us.push_back(
              std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                  .count());
          step_us += sums.latencies_us.back();
          // ann-benchmarks' rule: a hit counts when it is no farther than the k-th true neighbour
          // (plus kTieEpsilon), so an equally near duplicate of a true neighbour is not a miss.
          const size_t depth = std::min<size_t>(k, query.truth.size());
          const double threshold =
              depth > 0 ? query.truth_distances[depth - 1] + kTieEpsilon : -HUGE_VAL;
          const auto top_k = query.truth.begin() + depth;
          size_t found = 0, kept = 0;
          std::vector<RowId> others;  // hits beyond the true top k: the tie rule decides
          for (const Hit& hit : result.hits) {
            if (query.Excludes(hit.id) || held_out_ids.contains(hit.id) || kept == k) continue;
            ++kept;
            if (std::find(query.truth.begin(), top_k, hit.id) != top_k) {
              ++found;  // a true neighbour: within the threshold by definition
              continue;
            }
            if (const std::optional<RowId> row = view.table.RowOf(hit.id)) others.push_back(*row);
          }
          if (!others.empty()) {
            other_values.resize(others.size() * view.shape.dim);
            // A failed read counts those hits as misses (and is in the fetch ledger).
            if (view.table.ReadFullRows(others, other_values.data(), other_found).ok()) {
              for (size_t i = 0; i < others.size(); ++i) {
                found +=
                    other_found[i] &&
                    ReferenceDistance(query.values.data(), other_values.data() + i * view.shape.dim,
                                      view.shape.dim, metric) <= threshold;
              }
            }
          }
          const double recall = double(found) / k;
          sums.point.recall += recall;
          sums.recall_squares += recall * recall;
          sums.point.mflops += result.cost.mflops;
          ++sums.measured;
          step_mflops += result.cost.mflops;
        }
      });
    }
    return resolved_ok;
  };
  const int64_t now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  auto mean = [&](const Sums& sums) {
    const double n = double(sums.measured);
    CalibrationPoint point = sums.point;
    point.recall /= n;
    point.mflops /= n;
    std::vector<double> latencies = sums.latencies_us;
    if (!latencies.empty()) {
      const auto middle = latencies.begin() + static_cast<std::ptrdiff_t>(latencies.size() / 2);
      std::nth_element(latencies.begin(), middle, latencies.end());
      point.latency_us = *middle;
    }
    // Sample variance of the per-query recalls (n - 1 in the denominator), then of their mean.
    const double variance =
        sums.measured > 1
            ? std::max(0.0, (sums.recall_squares - n * point.recall * point.recall) / (n - 1))
            : 0.25;  // one query: the largest variance a [0, 1] value can have
    point.recall_stderr = std::sqrt(variance / n);
    point.queries = static_cast<uint32_t>(sums.measured);
    point.source = source;
    point.measured_unix_seconds = now_unix;
    return point;
  };
  // The adaptive sample's rule: a plan whose recall lies within kAdaptiveZ standard errors of a
  // common target is measured on the rest of the queries too.
  auto near_common_target = [](const CalibrationPoint& point) {
    return std::any_of(std::begin(kCommonTargets), std::end(kCommonTargets), [&](double target) {
      return std::abs(point.recall - target) <= kAdaptiveZ * point.recall_stderr;
    });
  };

  size_t total = 0, done = 0;
  for (const std::vector<Plan>& grid : grids) total += 3 * grid.size();  // pilot, base, extension
  const size_t pilot = std::min(base, kPilotQueries);
  Calibration calibration;
  for (size_t ki = 0; ki < options.ks.size(); ++ki) {
    const uint32_t k = options.ks[ki];
    // Pilot: every plan on the first queries.
    std::vector<Sums> measured;
    for (const Plan& requested : grids[ki]) {
      if (cancelled()) return absl::CancelledError("calibration cancelled");
      if (progress) progress(double(done++) / double(total));
      Sums sums;
      sums.point.plan = requested;
      // A plan refused (e.g. a re-rank depth beyond the collection) or gone is left out.
      if (measure(requested, k, 0, pilot, sums)) measured.push_back(std::move(sums));
    }
    // Base pass for the plans no other beats clearly on the pilot: as cheap or cheaper, and
    // kPruneMargin more recall. The pilot means are taken before any base pass adds to the sums.
    std::vector<CalibrationPoint> estimates;
    estimates.reserve(measured.size());
    for (const Sums& sums : measured) estimates.push_back(mean(sums));
    std::vector<CalibrationPoint> points;
    for (size_t i = 0; i < measured.size(); ++i) {
      Sums& sums = measured[i];
      const CalibrationPoint& estimate = estimates[i];
      const bool dominated =
          std::any_of(estimates.begin(), estimates.end(), [&](const CalibrationPoint& rival) {
            return rival.mflops <= estimate.mflops &&
                   rival.recall >= estimate.recall + kPruneMargin;
          });
      if (cancelled()) return absl::CancelledError("calibration cancelled");
      if (progress) progress(double(done++) / double(total));
      if (dominated || !measure(sums.point.plan, k, pilot, base, sums)) continue;
      CalibrationPoint point = mean(sums);
      if (progress) progress(double(done++) / double(total));
      if (count > base && near_common_target(point)) {
        RETURN_IF_ERROR(compute_truth(count));
        if (!measure(sums.point.plan, k, base, count, sums)) continue;
        point = mean(sums);
      }
      points.push_back(std::move(point));
    }
    // Per plan group: an index dropped or measured again later leaves the others' points whole.
    std::map<std::string, std::vector<CalibrationPoint>> groups;
    for (CalibrationPoint& point : points)
      groups[PlanGroup(point.plan)].push_back(std::move(point));
    Frontier frontier{k, {}};
    for (auto& [group, members] : groups) {
      for (CalibrationPoint& point :
           ParetoFrontier(std::move(members), tiered ? CostAxis::kLatency : CostAxis::kMflops)) {
        calibration.queries = std::max(calibration.queries, point.queries);
        frontier.points.push_back(std::move(point));
      }
    }
    SortByCost(frontier.points);
    calibration.frontiers.push_back(std::move(frontier));
  }
  if (progress) progress(1.0);
  return calibration;
}

absl::StatusOr<Calibration> Calibrate(const VectorTable& table, Metric metric,
                                      std::span<const ServedIndex* const> ready,
                                      const CollectionShape& shape,
                                      const CalibrationOptions& options, const Progress& progress,
                                      const std::atomic<bool>* cancel) {
  const CalibrationView view{table, ready, shape};
  return Calibrate([&](const std::function<void(const CalibrationView&)>& step) { step(view); },
                   metric, options, progress, cancel);
}

}  // namespace adanns::index
