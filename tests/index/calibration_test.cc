// Calibration on seeded clustered data with an IVF: frontiers are Pareto and monotone, the exact
// plan tops them, a plan chosen for a target recall meets it on held-out queries, and the blob
// round-trips.
#include "index/calibration.h"

#include <cmath>
#include <functional>
#include <iostream>
#include <random>
#include <set>

#include "base/blob_io.h"
#include "gtest/gtest.h"
#include "index/flat_search.h"
#include "index/held_out.h"
#include "index/ivf_index.h"
#include "index/reference_distance.h"
#include "tests/index/clustered_data.h"

namespace adanns::index {
namespace {

CalibrationPoint Point(double mflops, double recall) {
  CalibrationPoint point;
  point.mflops = mflops;
  point.recall = recall;
  return point;
}

TEST(CalibrationTest, ParetoFrontierDropsDominatedPoints) {
  const std::vector<CalibrationPoint> frontier = ParetoFrontier(
      {Point(5, 0.9), Point(1, 0.5), Point(2, 0.4), Point(3, 0.9), Point(4, 0.95), Point(3, 0.7)});
  ASSERT_EQ(frontier.size(), 3u);
  EXPECT_EQ(frontier[0].mflops, 1);
  EXPECT_EQ(frontier[1].mflops, 3);
  EXPECT_EQ(frontier[1].recall, 0.9);
  EXPECT_EQ(frontier[2].mflops, 4);
  Frontier f{10, frontier};
  EXPECT_EQ(CheapestReaching(f, 0.8)->mflops, 3);
  EXPECT_EQ(CheapestReaching(f, 0.99), nullptr);
  EXPECT_EQ(BestWithin(f, 3.5)->recall, 0.9);
  EXPECT_EQ(BestWithin(f, 0.5), nullptr);
}

// On a tiered table the frontier ranks by measured latency: a plan that re-ranks many candidates
// from storage is cheap in MFLOPs but slow, and a dearer scan with a short re-rank beats it.
TEST(CalibrationTest, LatencyFrontierRanksByMeasuredTime) {
  CalibrationPoint fetch_heavy = Point(1, 0.9);  // few MFLOPs, many reads
  fetch_heavy.latency_us = 900;
  CalibrationPoint scan_heavy = Point(2, 0.95);
  scan_heavy.latency_us = 300;
  const std::vector<CalibrationPoint> by_mflops = ParetoFrontier({fetch_heavy, scan_heavy});
  ASSERT_EQ(by_mflops.size(), 2u);
  EXPECT_EQ(by_mflops[0].latency_us, 900);
  const std::vector<CalibrationPoint> by_latency =
      ParetoFrontier({fetch_heavy, scan_heavy}, CostAxis::kLatency);
  ASSERT_EQ(by_latency.size(), 1u);
  EXPECT_EQ(by_latency[0].latency_us, 300);
  Calibration stored;
  stored.frontiers.push_back({10, {fetch_heavy, scan_heavy}});
  const Calibration merged = MergedFrontier(stored, CostAxis::kLatency);
  ASSERT_EQ(merged.frontiers.size(), 1u);
  EXPECT_EQ(CheapestReaching(merged.frontiers[0], 0.85)->latency_us, 300);
}

// A target is met by the cheapest plan whose lower confidence bound reaches it, not its mean: a
// cheap plan with a noisy 0.91 loses to a dearer one whose bound clears 0.9.
TEST(CalibrationTest, CheapestReachingUsesTheLowerConfidenceBound) {
  CalibrationPoint noisy = Point(1, 0.91);
  noisy.recall_stderr = 0.02;  // bound 0.91 - 1.645 * 0.02 = 0.877
  CalibrationPoint steady = Point(2, 0.95);
  steady.recall_stderr = 0.01;  // bound 0.934
  const Frontier f{10, {noisy, steady}};
  EXPECT_DOUBLE_EQ(noisy.recall_lower_bound(), 0.91 - kRecallConfidenceZ * 0.02);
  EXPECT_EQ(CheapestReaching(f, 0.9)->mflops, 2);
  EXPECT_EQ(CheapestReaching(f, 0.87)->mflops, 1);
  EXPECT_EQ(CheapestReaching(f, 0.94), nullptr);  // 0.95 on average, but not surely
}

// Every vector stored twice (the copy with rounding-size noise): a sampled query's twin sits at
// distance ~0, a neighbour no outside query has, which would hand every self-query a free hit
// (recall@1 of 1 for any plan whose candidates include it). Calibration leaves twins out of the
// truth and the results, so a weak plan's calibrated recall is what held-out queries get.
TEST(CalibrationTest, SelfQueriesLeaveTheirStoredTwinsOut) {
  constexpr uint32_t kDim = 16;
  VectorTable table(kDim);
  const ClusteredSet set = FillClustered(table, 2000, 300);
  std::mt19937 rng(5);
  std::normal_distribution<float> noise;
  for (uint64_t id = 500; id < 2500; ++id) {
    const float* row = table.RowData(*table.RowOf(id));
    std::vector<float> copy(row, row + kDim);
    for (float& x : copy) x += 1e-5f * noise(rng);
    table.Upsert(id + 100000, copy);
  }
  const std::vector<const ServedIndex*> ready;
  const std::vector<uint32_t> nesting = {2, 16};
  const CollectionShape shape{kDim, nesting, table.size()};
  CalibrationOptions options;
  options.queries = 300;
  options.ks = {1};
  absl::StatusOr<Calibration> calibration = Calibrate(table, Metric::kL2, ready, shape, options);
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  const CalibrationPoint& weakest = calibration->frontiers.at(0).points.at(0);
  Budget budget;
  budget.plan = weakest.plan;
  absl::StatusOr<Plan> plan = ChoosePlan(budget, shape, 1, ready);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Plan exact = *ResolveFlatPlan({}, kDim, 1);
  auto distance = [&](const std::vector<float>& query, uint64_t id) {
    return ReferenceDistance(query.data(), table.RowData(*table.RowOf(id)), kDim, Metric::kL2);
  };
  double found = 0;
  for (const std::vector<float>& query : set.queries) {
    const uint64_t nearest = FlatSearch(table, Metric::kL2, query, 1, exact).hits.at(0).id;
    const SearchResult result = RunPlan(*plan, table, Metric::kL2, query, 1, ready);
    found += !result.hits.empty() &&
             distance(query, result.hits[0].id) <= distance(query, nearest) + kTieEpsilon;
  }
  const double held_out = found / double(set.queries.size());
  std::cout << "[calibration] weakest plan: search_dims " << plan->search_dims.value_or(0) << ", "
            << plan->rerank_candidates.value_or(0) << " candidates; calibrated recall@1 "
            << weakest.recall << ", held-out " << held_out << "\n";
  EXPECT_LT(weakest.recall, 0.9);  // with its twin in the truth, every self-query would hit
  EXPECT_NEAR(weakest.recall, held_out, 0.1);
}

class CalibrateTest : public testing::Test {
 protected:
  static constexpr uint32_t kDim = 32;
  void SetUp() override {
    held_out_ = FillClustered(table_, 3000, 30).queries;
    IvfBuildParams params;
    params.nlist = 40;
    params.coarse_dims = 16;
    params.search_dims = 16;
    params.kmeans_iterations = 8;
    auto built = IvfIndex::Build(table_, Metric::kL2, params);
    ASSERT_TRUE(built.ok()) << built.status();
    ivf_ = std::move(*built);
    ready_ = {ivf_.get()};
    shape_ = {kDim, nesting_, table_.size()};
  }

  VectorTable table_{kDim};
  std::vector<std::vector<float>> held_out_;
  std::unique_ptr<IvfIndex> ivf_;
  std::vector<const ServedIndex*> ready_;
  const std::vector<uint32_t> nesting_ = {8, 16, 32};
  CollectionShape shape_;
};

TEST_F(CalibrateTest, FrontiersAreMonotoneAndPredictHeldOutRecall) {
  CalibrationOptions options;
  options.queries = 60;
  options.ks = {1, 10};
  double last_progress = -1;
  bool monotone = true;
  absl::StatusOr<Calibration> calibration =
      Calibrate(table_, Metric::kL2, ready_, shape_, options, [&](double fraction) {
        monotone &= fraction >= last_progress;
        last_progress = fraction;
      });
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  EXPECT_TRUE(monotone);
  EXPECT_EQ(last_progress, 1.0);
  // Stored per plan group (flat, ivf); the planner's frontier merges them.
  const Calibration merged = MergedFrontier(*calibration);
  ASSERT_EQ(merged.frontiers.size(), 2u);
  for (const Frontier& frontier : merged.frontiers) {
    ASSERT_FALSE(frontier.points.empty());
    for (size_t i = 1; i < frontier.points.size(); ++i) {
      EXPECT_GE(frontier.points[i].mflops, frontier.points[i - 1].mflops);
      EXPECT_GT(frontier.points[i].recall, frontier.points[i - 1].recall);
    }
    // The exact plan is in every grid: the frontier reaches recall 1, on every query alike.
    EXPECT_DOUBLE_EQ(frontier.points.back().recall, 1.0);
    EXPECT_DOUBLE_EQ(frontier.points.back().recall_stderr, 0.0);
    // A standard error of per-query recalls in [0, 1] is at most sqrt(r (1 - r) / (n - 1)), and
    // a plan that misses on some queries has one.
    for (const CalibrationPoint& point : frontier.points) {
      const double r = point.recall;
      EXPECT_LE(point.recall_stderr, std::sqrt(r * (1 - r) / (point.queries - 1)) + 1e-12);
      if (r < 0.999) {
        EXPECT_GT(point.recall_stderr, 0.0) << point.plan.index;
      }
    }
  }
  // The cheapest plan calibrated at >= 0.9 for k = 10, run on queries calibration never saw.
  const Frontier& k10 = merged.frontiers[1];
  const CalibrationPoint* chosen = CheapestReaching(k10, 0.9);
  ASSERT_NE(chosen, nullptr);
  EXPECT_LT(chosen->mflops, k10.points.back().mflops);  // cheaper than exact search
  Budget budget;
  budget.plan = chosen->plan;
  absl::StatusOr<Plan> plan = ChoosePlan(budget, shape_, 10, ready_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Plan exact = *ResolveFlatPlan({}, kDim, 10);
  double found = 0;
  for (const auto& query : held_out_) {
    std::set<uint64_t> truth;
    for (const Hit& hit : FlatSearch(table_, Metric::kL2, query, 10, exact).hits) {
      truth.insert(hit.id);
    }
    for (const Hit& hit : RunPlan(*plan, table_, Metric::kL2, query, 10, ready_).hits) {
      found += truth.count(hit.id);
    }
  }
  const double held_out_recall = found / (10.0 * held_out_.size());
  std::cout << "[calibration] plan " << plan->index << " calibrated recall " << chosen->recall
            << ", held-out " << held_out_recall << ", " << chosen->mflops << " MFLOPs\n";
  EXPECT_GE(held_out_recall, 0.85);
}

TEST_F(CalibrateTest, CalibratesOnGivenQueries) {
  // The first half of the held-out queries calibrates, the second half checks.
  std::vector<float> given;
  for (size_t q = 0; q < held_out_.size() / 2; ++q) {
    given.insert(given.end(), held_out_[q].begin(), held_out_[q].end());
  }
  CalibrationOptions options;
  options.queries_given = given;
  options.ks = {10};
  absl::StatusOr<Calibration> calibration = Calibrate(table_, Metric::kL2, ready_, shape_, options);
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  EXPECT_EQ(calibration->queries, held_out_.size() / 2);
  const CalibrationPoint* chosen = CheapestReaching(calibration->frontiers[0], 0.9);
  ASSERT_NE(chosen, nullptr);
  Budget budget;
  budget.plan = chosen->plan;
  absl::StatusOr<Plan> plan = ChoosePlan(budget, shape_, 10, ready_);
  ASSERT_TRUE(plan.ok());
  const Plan exact = *ResolveFlatPlan({}, kDim, 10);
  double found = 0;
  for (size_t q = held_out_.size() / 2; q < held_out_.size(); ++q) {
    std::set<uint64_t> truth;
    for (const Hit& hit : FlatSearch(table_, Metric::kL2, held_out_[q], 10, exact).hits) {
      truth.insert(hit.id);
    }
    for (const Hit& hit : RunPlan(*plan, table_, Metric::kL2, held_out_[q], 10, ready_).hits) {
      found += truth.count(hit.id);
    }
  }
  EXPECT_GE(found / (10.0 * (held_out_.size() - held_out_.size() / 2)), 0.85);
  // Partial vectors are refused.
  given.pop_back();
  options.queries_given = given;
  EXPECT_EQ(Calibrate(table_, Metric::kL2, ready_, shape_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CalibrateTest, BlobRoundTripsAndCorruptionIsRejected) {
  CalibrationOptions options;
  options.queries = 20;
  options.ks = {10};
  absl::StatusOr<Calibration> calibration = Calibrate(table_, Metric::kL2, ready_, shape_, options);
  ASSERT_TRUE(calibration.ok());
  const std::string blob = SerializeCalibration(*calibration);
  absl::StatusOr<Calibration> read = DeserializeCalibration(blob);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->frontiers.size(), 1u);
  const auto& a = calibration->frontiers[0].points;
  const auto& b = read->frontiers[0].points;
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].plan.index, b[i].plan.index);
    EXPECT_EQ(a[i].plan.nprobe, b[i].plan.nprobe);
    EXPECT_EQ(a[i].plan.rerank_candidates, b[i].plan.rerank_candidates);
    EXPECT_EQ(a[i].plan.search_dims, b[i].plan.search_dims);
    EXPECT_EQ(a[i].recall, b[i].recall);
    EXPECT_EQ(a[i].recall_stderr, b[i].recall_stderr);
    EXPECT_EQ(a[i].mflops, b[i].mflops);
  }
  std::string flipped = blob;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_EQ(DeserializeCalibration(flipped).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DeserializeCalibration("short").status().code(), absl::StatusCode::kDataLoss);
}

// A calibration persisted by a server before standard errors (format 1) loads with the largest
// one its mean allows, sqrt(r (1 - r) / n).
TEST(CalibrationTest, VersionOneBlobLoadsWithTheWorstCaseStandardError) {
  std::string blob("ADNSCAL1", 8);
  AppendPod(blob, uint32_t{1});                  // format version
  AppendPod(blob, uint32_t{100});                // queries
  AppendPod(blob, uint32_t{1});                  // frontiers
  AppendPod(blob, uint32_t{10});                 // k
  AppendPod(blob, uint32_t{1});                  // points
  for (const std::string text : {"flat", ""}) {  // plan index and codebook
    AppendPod(blob, static_cast<uint32_t>(text.size()));
    blob += text;
  }
  for (int field = 0; field < 6; ++field) {  // optional plan fields, all unset
    AppendPod(blob, uint8_t{0});
    AppendPod(blob, uint32_t{0});
  }
  AppendPod(blob, 0.9);   // recall
  AppendPod(blob, 2.5);   // mflops
  AppendPod(blob, 40.0);  // latency_us
  SealBlob(blob);
  absl::StatusOr<Calibration> read = DeserializeCalibration(blob);
  ASSERT_TRUE(read.ok()) << read.status();
  const CalibrationPoint& point = read->frontiers.at(0).points.at(0);
  EXPECT_EQ(point.recall, 0.9);
  EXPECT_EQ(point.mflops, 2.5);
  EXPECT_DOUBLE_EQ(point.recall_stderr, std::sqrt(0.9 * 0.1 / 100));
}

// An IVF built without 200 held-out rows, calibrated on them: every query comes from those rows,
// the truth leaves all of them out (the index cannot return them), so the exhaustive IVF plan
// (every list, re-ranked at the full dim) finds the whole truth; then each point says where its
// queries came from.
TEST(HeldOutCalibrationTest, QueriesComeFromRowsTheIndexLacksAndLeaveTheTruth) {
  constexpr uint32_t kDim = 32;
  VectorTable table(kDim);
  FillClustered(table, 3000, 0);
  const HeldOutRows held_out = SampleLiveRows(table, 200, 7);
  ASSERT_EQ(held_out.size(), 200u);
  IvfBuildParams params;
  params.nlist = 20;
  params.coarse_dims = 16;
  params.search_dims = 16;
  params.kmeans_iterations = 6;
  auto access = [&table](const std::function<void(const VectorTable&)>& read) { read(table); };
  auto built = IvfIndex::Build(access, Metric::kL2, params, nullptr, nullptr, held_out);
  ASSERT_TRUE(built.ok()) << built.status();
  const std::vector<const ServedIndex*> ready = {built->get()};
  const std::vector<uint32_t> nesting = {8, 16, 32};
  const CollectionShape shape{kDim, nesting, table.size()};
  // The held-out rows are in no list: an exhaustive IVF search of one finds it only if it is.
  Plan everything;
  everything.index = "ivf";
  everything.nprobe = params.nlist;
  everything.rerank_dims = kDim;
  everything.rerank_candidates = 3000;
  Budget budget;
  budget.plan = everything;
  absl::StatusOr<Plan> exhaustive = ChoosePlan(budget, shape, 10, ready);
  ASSERT_TRUE(exhaustive.ok()) << exhaustive.status();
  for (const RowId row : held_out.rows()) {
    const std::span<const float> query(table.RowData(row), kDim);
    for (const Hit& hit : RunPlan(*exhaustive, table, Metric::kL2, query, 10, ready).hits) {
      ASSERT_NE(hit.id, table.IdOf(row));
    }
  }
  CalibrationOptions options;
  options.queries = 100;
  options.held_out = &held_out;
  options.flat_plans = false;
  options.ks = {10};
  absl::StatusOr<Calibration> calibration = Calibrate(table, Metric::kL2, ready, shape, options);
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  const Frontier& frontier = calibration->frontiers.at(0);
  ASSERT_FALSE(frontier.points.empty());
  for (const CalibrationPoint& point : frontier.points) {
    EXPECT_EQ(point.plan.index, "ivf");
    EXPECT_EQ(point.source, CalibrationSource::kHeldOut);
    EXPECT_EQ(point.queries, 100u);
    EXPECT_GT(point.measured_unix_seconds, 0);
  }
  // The grid's widest IVF plan probes every list: with the held-out rows out of the truth too,
  // it finds all of it.
  EXPECT_DOUBLE_EQ(frontier.points.back().recall, 1.0);
  // Flat plans would scan the held-out rows: refused with them.
  options.flat_plans = true;
  EXPECT_EQ(Calibrate(table, Metric::kL2, ready, shape, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The adaptive sample: with 40 queries for every plan and up to 160, the plans whose recall lies
// within kAdaptiveZ standard errors of a common target get the 160, the others stay at 40.
TEST_F(CalibrateTest, PlansNearACommonTargetGetMoreQueries) {
  CalibrationOptions options;
  options.queries = 40;
  options.max_queries = 160;
  options.ks = {10};
  absl::StatusOr<Calibration> calibration = Calibrate(table_, Metric::kL2, ready_, shape_, options);
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  size_t more = 0, base = 0;
  for (const CalibrationPoint& point : calibration->frontiers.at(0).points) {
    ASSERT_TRUE(point.queries == 40 || point.queries == 160) << point.queries;
    if (point.queries == 160) {
      ++more;
      continue;
    }
    ++base;
    for (const double target : kCommonTargets) {  // measured on 40: far from every target
      EXPECT_GT(std::abs(point.recall - target), kAdaptiveZ * point.recall_stderr) << target;
    }
  }
  std::cout << "[calibration] adaptive sample: " << more << " points on 160 queries, " << base
            << " on 40\n";
  EXPECT_GT(more, 0u);
  EXPECT_GT(base, 0u);  // the exact plan (recall 1, no spread) never needs more
}

CalibrationPoint PlanPoint(const std::string& index, const std::string& codebook, double mflops,
                           double recall) {
  CalibrationPoint point = Point(mflops, recall);
  point.plan.index = index;
  point.plan.codebook = codebook;
  point.queries = 100;
  return point;
}

// Points are kept per plan group; an index's points can be replaced or dropped without touching
// the others', and the planner's view is the Pareto frontier of them all.
TEST(CalibrationTest, GroupsAreReplacedAloneAndMergedForThePlanner) {
  EXPECT_TRUE(PlanUsesIndex(PlanPoint("ivf", "", 1, 1).plan, "ivf"));
  EXPECT_TRUE(PlanUsesIndex(PlanPoint("ivf_opq", "opq8x8", 1, 1).plan, "ivf"));
  EXPECT_TRUE(PlanUsesIndex(PlanPoint("ivf_opq", "opq8x8", 1, 1).plan, "opq8x8"));
  EXPECT_TRUE(PlanUsesIndex(PlanPoint("opq", "opq8x8", 1, 1).plan, "opq8x8"));
  EXPECT_FALSE(PlanUsesIndex(PlanPoint("opq", "opq8x8", 1, 1).plan, "opq16x8"));
  EXPECT_FALSE(PlanUsesIndex(PlanPoint("flat", "", 1, 1).plan, "flat"));
  EXPECT_FALSE(PlanUsesIndex(PlanPoint("hnsw", "", 1, 1).plan, "ivf"));

  Calibration stored;
  stored.frontiers.push_back(
      {10,
       {PlanPoint("hnsw", "", 1, 0.8), PlanPoint("ivf", "", 2, 0.7), PlanPoint("hnsw", "", 3, 0.95),
        PlanPoint("ivf", "", 4, 0.9), PlanPoint("flat", "", 50, 1.0)}});
  const Calibration merged = MergedFrontier(stored);
  ASSERT_EQ(merged.frontiers.at(0).points.size(), 3u);  // ivf's points are beaten by hnsw's
  EXPECT_EQ(merged.frontiers[0].points[0].plan.index, "hnsw");
  EXPECT_EQ(merged.frontiers[0].points[2].plan.index, "flat");

  // Dropping the graph: the IVF's points, dominated until now, are the frontier.
  const Calibration dropped =
      Replaced(stored, {}, [](const Plan& plan) { return PlanUsesIndex(plan, "hnsw"); });
  const Calibration after_drop = MergedFrontier(dropped);
  ASSERT_EQ(after_drop.frontiers.at(0).points.size(), 3u);
  EXPECT_EQ(after_drop.frontiers[0].points[0].plan.index, "ivf");
  EXPECT_EQ(after_drop.frontiers[0].points[1].recall, 0.9);

  // A new measurement of the IVF at k 10 and 100 replaces its points only.
  Calibration measured;
  measured.frontiers.push_back({10, {PlanPoint("ivf", "", 2.5, 0.85)}});
  measured.frontiers.push_back({100, {PlanPoint("ivf", "", 9, 0.9)}});
  const Calibration replaced =
      Replaced(stored, measured, [](const Plan& plan) { return PlanUsesIndex(plan, "ivf"); });
  ASSERT_EQ(replaced.frontiers.size(), 2u);
  EXPECT_EQ(replaced.frontiers[0].points.size(), 4u);  // 2 graph, 1 ivf, 1 flat
  EXPECT_EQ(replaced.frontiers[1].k, 100u);
  for (size_t i = 1; i < replaced.frontiers[0].points.size(); ++i) {
    EXPECT_LE(replaced.frontiers[0].points[i - 1].mflops, replaced.frontiers[0].points[i].mflops);
  }
}

TEST(CalibrationTest, BlobKeepsEachPointsQueriesSourceAndTime) {
  Calibration calibration;
  CalibrationPoint point = PlanPoint("hnsw", "", 1, 0.9);
  point.queries = 321;
  point.source = CalibrationSource::kReservoir;
  point.measured_unix_seconds = 1'790'000'000;
  calibration.queries = 321;
  calibration.frontiers.push_back({10, {point}});
  absl::StatusOr<Calibration> read = DeserializeCalibration(SerializeCalibration(calibration));
  ASSERT_TRUE(read.ok()) << read.status();
  const CalibrationPoint& back = read->frontiers.at(0).points.at(0);
  EXPECT_EQ(back.queries, 321u);
  EXPECT_EQ(back.source, CalibrationSource::kReservoir);
  EXPECT_EQ(back.measured_unix_seconds, 1'790'000'000);
  EXPECT_EQ(SourceName(back.source), "reservoir");
}

TEST_F(CalibrateTest, RefusesWhatItCannotMeasure) {
  CalibrationOptions options;
  options.ks = {5000};
  EXPECT_EQ(Calibrate(table_, Metric::kL2, ready_, shape_, options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  options.ks = {};
  EXPECT_EQ(Calibrate(table_, Metric::kL2, ready_, shape_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::atomic<bool> cancel{true};
  options.ks = {10};
  EXPECT_EQ(
      Calibrate(table_, Metric::kL2, ready_, shape_, options, nullptr, &cancel).status().code(),
      absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace adanns::index
