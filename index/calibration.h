// Calibration: the measured accuracy-compute frontier of a collection's plans, the ground the
// budget planner stands on. Queries come from outside the indexes measured (rows an index build
// held out, a reservoir of live queries, the caller's) or, for flat plans, from sampled stored
// vectors (each excluded from its own ground truth); exact full-dim truth is computed, every plan
// of a grid is run on them, and per k and plan group the Pareto frontier of (MFLOPs, recall@k) is
// kept. The planner works from the merged frontier of all groups (MergedFrontier).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/held_out.h"
#include "index/plan.h"
#include "index/plan_chooser.h"
#include "index/served_index.h"
#include "index/vector_table.h"

namespace adanns::index {

// One-sided 95% normal quantile: a target_recall is met by a plan whose mean recall less this
// many standard errors reaches it, so that a plan picked on a sample of calibration queries falls
// short on the population they stand for about 1 time in 20, not 1 in 2 as a mean would.
inline constexpr double kRecallConfidenceZ = 1.645;

// Where a point's queries came from.
enum class CalibrationSource : uint8_t {
  kSelf = 0,       // stored vectors sampled, each (and its twins) left out of its own truth
  kHeldOut = 1,    // rows an index build left out, inserted after the calibration
  kGiven = 2,      // the caller's (CalibrateRequest.query_vectors)
  kReservoir = 3,  // a uniform sample of the collection's recent search queries
};
std::string_view SourceName(CalibrationSource source);

struct CalibrationPoint {
  Plan plan;                 // as the grid requested it; resolving it again gives the plan that ran
  double recall = 0;         // mean recall@k over the calibration queries
  double recall_stderr = 0;  // standard error of that mean (sample s.d. / sqrt(queries))
  double mflops = 0;         // mean MFLOPs per query (cost model)
  double latency_us = 0;     // median wall time per query, one thread
  uint32_t queries = 0;      // queries measured (the adaptive sample gives some plans more)
  CalibrationSource source = CalibrationSource::kSelf;
  int64_t measured_unix_seconds = 0;

  // The one-sided lower confidence bound on the recall the plan reaches on queries like these.
  double recall_lower_bound() const { return recall - kRecallConfidenceZ * recall_stderr; }
};

// The points of one k that no other point beats on both MFLOPs and recall, by increasing MFLOPs
// (and so increasing recall).
struct Frontier {
  uint32_t k = 0;
  std::vector<CalibrationPoint> points;
};

struct Calibration {
  uint32_t queries = 0;             // the most queries any point stands on
  std::vector<Frontier> frontiers;  // by increasing k
};

// The served index a plan reads ("flat" plans read none; an ivf_opq plan reads two).
bool PlanUsesIndex(const Plan& plan, std::string_view index_name);
// What a stored calibration keeps a Pareto frontier of: plans of one index (or one composite pair,
// or the flat plans) compete only among themselves there, so that dropping an index or measuring
// one again leaves the points of the others whole.
std::string PlanGroup(const Plan& plan);
// What a frontier ranks plans by. MFLOPs (counted work: machine-independent, the cost model's)
// by default; measured latency on a tiered table, whose re-rank reads full vectors from storage:
// a read costs about 5-12 us against 0.2 us for scoring the row in memory (measured on
// Fashion-MNIST, 784 dims, block cache hits), so MFLOPs would rank fetch-heavy plans as cheap.
enum class CostAxis { kMflops, kLatency };

// The planner's view of a stored calibration: per k, the Pareto frontier of every group's points.
Calibration MergedFrontier(const Calibration& stored, CostAxis axis = CostAxis::kMflops);
// `stored` with the points `replaced` selects taken out and `measured`'s points added (per k).
Calibration Replaced(const Calibration& stored, const Calibration& measured,
                     const std::function<bool(const Plan&)>& replaced);

// Sorts by increasing cost on `axis`, the higher recall first among equals (stable).
void SortByCost(std::vector<CalibrationPoint>& points, CostAxis axis = CostAxis::kMflops);
// Keeps the Pareto-optimal points: sorted by cost on `axis`, each with strictly more recall than
// every cheaper one.
std::vector<CalibrationPoint> ParetoFrontier(std::vector<CalibrationPoint> points,
                                             CostAxis axis = CostAxis::kMflops);
// The cheapest point whose recall_lower_bound() reaches target; null when none does.
const CalibrationPoint* CheapestReaching(const Frontier& frontier, double target);
// The highest-recall point with MFLOPs <= max_mflops; null when none fits.
const CalibrationPoint* BestWithin(const Frontier& frontier, double max_mflops);

// Recall targets callers commonly ask for: where a plan's recall sits within kAdaptiveZ standard
// errors of one of them, the plan chosen for that target hangs on sampling noise, so the adaptive
// sample measures that plan on more queries (CalibrationOptions::max_queries).
inline constexpr double kCommonTargets[] = {0.8, 0.9, 0.95, 0.97, 0.99};
inline constexpr double kAdaptiveZ = 3.0;

struct CalibrationOptions {
  // Queries every measured plan runs on: stored vectors sampled (or held-out rows), unless
  // queries_given is set.
  uint32_t queries = 200;
  // The adaptive sample's limit: plans near a common target (see kCommonTargets) run on up to this
  // many queries. 0 or <= queries: every plan on `queries`.
  uint32_t max_queries = 0;
  // Queries to calibrate on instead (n x dim floats, row-major), e.g. a sample of real traffic:
  // self-queries can be harder or easier than the queries a collection actually gets.
  std::span<const float> queries_given;
  CalibrationSource given_source = CalibrationSource::kGiven;
  // Rows the indexes measured left out of their build (HeldOutRows): queries are drawn from them,
  // and every one of them is left out of each query's truth and results (no index measured holds
  // them). Null: stored vectors are sampled. Needs flat_plans off.
  const HeldOutRows* held_out = nullptr;
  // The held-out rows the queries are drawn from (a subset of held_out; null = all of them): one
  // build can then be calibrated on several disjoint samples.
  const HeldOutRows* query_rows = nullptr;
  // Only plans that read this served index (by name), e.g. the one a build just made; "" = all.
  std::string only_index;
  std::vector<uint32_t> ks = {1, 10, 100};
  uint64_t seed = 1234;
  // Exact search and the flat funnels in the grid (off: the indexes' plans only).
  bool flat_plans = true;
};

// The plan grid for k over the ready indexes: flat funnels over the nesting prefixes, and per
// index its breadth knob (IVF nprobe, graph ef, codebook and ivf_opq re-rank depth) times re-rank
// depths; every plan resolves with ChoosePlan for that k.
std::vector<Plan> CalibrationGrid(std::span<const ServedIndex* const> ready,
                                  const CollectionShape& shape, uint32_t k, bool flat_plans = true);

// What one calibration step sees: the table and the ready indexes, held still for the step.
struct CalibrationView {
  const VectorTable& table;
  std::span<const ServedIndex* const> ready;
  CollectionShape shape;
};
// Runs `step` with the collection held still. The server passes one that takes the table's shared
// lock, so calibration proceeds in short steps and writers interleave; a plan whose index went
// away between steps is skipped.
using CalibrationAccess =
    std::function<void(const std::function<void(const CalibrationView&)>& step)>;

// Measures CalibrationGrid(k) for each k of `options` (CANCELLED when `cancel` is set): every
// plan on 32 pilot queries, then on all queries the plans no other beats there by 0.05 recall at
// no more MFLOPs. The table must hold more live vectors than the largest k.
absl::StatusOr<Calibration> Calibrate(const CalibrationAccess& access, Metric metric,
                                      const CalibrationOptions& options,
                                      const Progress& progress = nullptr,
                                      const std::atomic<bool>* cancel = nullptr);
// The same over a table and indexes the caller keeps still throughout.
absl::StatusOr<Calibration> Calibrate(const VectorTable& table, Metric metric,
                                      std::span<const ServedIndex* const> ready,
                                      const CollectionShape& shape,
                                      const CalibrationOptions& options,
                                      const Progress& progress = nullptr,
                                      const std::atomic<bool>* cancel = nullptr);

// Bytes with a format version and a CRC-32; DATA_LOSS for anything else. A version-1 blob (no
// standard errors) loads with the largest standard error its means allow, sqrt(r (1 - r) / n)
// (per-query recalls lie in [0, 1]), so an older calibration never promises more than it can.
std::string SerializeCalibration(const Calibration& calibration);
absl::StatusOr<Calibration> DeserializeCalibration(std::string_view bytes);

}  // namespace adanns::index
