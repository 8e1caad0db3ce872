// A collection's calibration over its life, on a real RocksDB: builds measure their index on rows
// they held out (and hold them afterwards), the flat plans follow on sampled stored vectors, a
// drop takes out only its index's points, the reservoir keeps a bounded sample of full-dim
// queries and calibrates on them, drifted queries and growth start a new calibration, and a
// restart keeps every point's source.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "server/engine.h"
#include "server/worker_pool.h"
#include "tests/common/temp_dir.h"

namespace adanns::server {
namespace {

constexpr uint32_t kDim = 16;
constexpr uint64_t kRows = 3000;

// Rows around 24 seeded centres; `shift` moves them away from the data.
std::vector<float> Rows(uint64_t first, uint64_t count, uint32_t seed, float shift = 0) {
  std::mt19937 centre_rng(99);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> centres(24, std::vector<float>(kDim));
  for (auto& c : centres) {
    for (float& x : c) x = 3 * normal(centre_rng);
  }
  std::mt19937 rng(seed);
  std::vector<float> out;
  for (uint64_t i = first; i < first + count; ++i) {
    for (uint32_t j = 0; j < kDim; ++j) out.push_back(centres[i % 24][j] + normal(rng) + shift);
  }
  return out;
}

bool AllBuildsReady(const Collection& collection) {
  for (const IndexStatus& status : collection.Indexes()) {
    if (status.state != "ready") return false;
  }
  return true;
}

// Polls of 10 ms before a wait gives up: 5 minutes, for TSAN on a busy machine.
constexpr int kWaitPolls = 30000;

// Waits (bounded) until every build is ready.
bool WaitForReadyBuilds(const Collection& collection) {
  for (int attempt = 0; attempt < kWaitPolls && !AllBuildsReady(collection); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return AllBuildsReady(collection);
}

// The flat plans were measured (their points may all be beaten by the indexes').
bool HasFlatPoints(const CalibrationStatus& status) {
  return status.source.find("self") != std::string::npos;
}

// Polls (bounded) until `done` holds for the calibration status.
CalibrationStatus WaitFor(const Collection& collection,
                          const std::function<bool(const CalibrationStatus&)>& done) {
  for (int attempt = 0; attempt < kWaitPolls; ++attempt) {
    const CalibrationStatus status = collection.calibration_status();
    if (status.state != "calibrating" && done(status)) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const CalibrationStatus last = collection.calibration_status();
  ADD_FAILURE() << "calibration did not settle in 5 minutes: state " << last.state << ", source "
                << last.source << ", error " << last.error;
  return collection.calibration_status();
}

// The points of the frontier in use at k, with their plan's index.
std::vector<index::CalibrationPoint> Points(const CalibrationStatus& status, uint32_t k) {
  if (status.frontier == nullptr) return {};
  for (const index::Frontier& frontier : status.frontier->frontiers) {
    if (frontier.k == k) return frontier.points;
  }
  return {};
}

class CalibrationLifecycleTest : public ::testing::Test {
 protected:
  void Open() {
    CollectionOptions options;
    options.calibration_queries = 60;
    options.calibration_reservoir = 150;
    options.upkeep_pool = &upkeep_;  // as the server runs it: the drift check off the search
    auto engine = Engine::Open(dir_.path(), {}, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }

  void SetUp() override {
    Open();
    storage::CollectionMeta meta;
    meta.name = "life";
    meta.dim = kDim;
    meta.metric = Metric::kL2;
    auto created = engine_->CreateCollection(meta);
    ASSERT_TRUE(created.ok()) << created.status();
    collection_ = *created;
    std::vector<uint64_t> ids(kRows);
    for (uint64_t id = 0; id < kRows; ++id) ids[id] = id;
    ASSERT_TRUE(collection_->Upsert(ids, Rows(0, kRows, 1)).ok());
    index::IvfBuildParams ivf;
    ivf.nlist = 16;
    ivf.coarse_dims = 4;
    ivf.search_dims = 8;
    std::vector<BuildRequest> builds;
    builds.push_back(MakeIvfBuild(ivf, Metric::kL2));
    builds.push_back(MakeHnswBuild({.graph_dims = 8, .m = 8, .ef_construction = 40}, Metric::kL2));
    ASSERT_TRUE(collection_->StartBuilds(std::move(builds)).ok());
    ASSERT_TRUE(WaitForReadyBuilds(*collection_));
    built_ = WaitFor(*collection_, HasFlatPoints);
  }

  // Offers `count` full-dim queries as searches would (ObserveSearch), `batch` at a time.
  void Observe(const std::vector<float>& queries) {
    collection_->ObserveSearch(queries, kDim, queries.size() / kDim);
  }

  testing::TempDir dir_;
  WorkerPool upkeep_{"test-upkeep", 1};  // outlives the engine
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<Collection> collection_;
  CalibrationStatus built_;
};

// Each index's points were measured on the 200 rows its build held out (0.5% of 3000, raised to
// the 200 floor), the flat plans' on sampled stored vectors; afterwards the index holds every row:
// an exhaustive search of each stored vector finds it at distance 0.
TEST_F(CalibrationLifecycleTest, BuildsCalibrateOnRowsTheyHeldOutThenHoldThem) {
  size_t index_points = 0;
  for (const uint32_t k : {1u, 10u, 100u}) {
    for (const index::CalibrationPoint& point : Points(built_, k)) {
      if (point.plan.index == "flat") {
        EXPECT_EQ(point.source, index::CalibrationSource::kSelf);
      } else {
        EXPECT_EQ(point.source, index::CalibrationSource::kHeldOut) << point.plan.index;
        EXPECT_GE(point.queries, 60u);
        EXPECT_LE(point.queries, 200u);
        ++index_points;
      }
    }
  }
  EXPECT_GT(index_points, 0u);
  EXPECT_EQ(built_.source, "held_out+self");
  const std::vector<float> rows = Rows(0, kRows, 1);
  for (const char* kind : {"ivf", "hnsw"}) {
    index::Plan plan;
    plan.index = kind;
    if (plan.index == "ivf") {
      plan.nprobe = 16;
    } else {
      plan.ef = 200;
    }
    index::Budget budget;
    budget.plan = plan;
    size_t found = 0;
    for (uint64_t id = 0; id < kRows; ++id) {
      auto outcome = collection_->Search({rows.data() + id * kDim, kDim}, kDim, 1, 1, budget,
                                         SearchDevice::kCpu, nullptr);
      ASSERT_TRUE(outcome.ok()) << outcome.status();
      const index::SearchResult& result = outcome->results.front();
      found += !result.hits.empty() && result.hits[0].id == id;
    }
    EXPECT_EQ(found, kRows) << kind;
  }
}

// Dropping the graph takes its points out and measures nothing: the IVF's stay as they were.
TEST_F(CalibrationLifecycleTest, DroppingAnIndexTakesOutOnlyItsPoints) {
  ASSERT_TRUE(collection_->DropIndex("hnsw").ok());
  const CalibrationStatus after = collection_->calibration_status();
  EXPECT_NE(after.state, "calibrating");
  bool ivf_seen = false;
  for (const index::CalibrationPoint& point : Points(after, 10)) {
    EXPECT_NE(point.plan.index, "hnsw");
    ivf_seen |= point.plan.index == "ivf";
    if (point.plan.index == "ivf") {
      EXPECT_EQ(point.source, index::CalibrationSource::kHeldOut);
    }
  }
  EXPECT_TRUE(ivf_seen);
}

// Full-dim queries fill the reservoir up to its 150; prefix queries never enter. Below 100 a
// reservoir calibration is refused; at 150 every plan is measured on them.
TEST_F(CalibrationLifecycleTest, TheReservoirIsBoundedAndCalibrates) {
  Observe(Rows(0, 80, 5));
  const std::vector<float> prefix(8 * 10, 1.0f);
  collection_->ObserveSearch(prefix, 8, 10);
  EXPECT_EQ(collection_->calibration_status().reservoir_queries, 80u);
  CalibrationRequest request;
  request.source = CalibrationQueries::kReservoir;
  const absl::StatusOr<CalibrationStatus> refused = collection_->StartCalibration(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("needs 100"), std::string::npos)
      << refused.status().message();
  Observe(Rows(80, 900, 6));
  EXPECT_EQ(collection_->calibration_status().reservoir_queries, 150u);
  ASSERT_TRUE(collection_->StartCalibration(request).ok());
  const CalibrationStatus status =
      WaitFor(*collection_, [](const CalibrationStatus& s) { return s.source == "reservoir"; });
  for (const index::CalibrationPoint& point : Points(status, 10)) {
    EXPECT_EQ(point.source, index::CalibrationSource::kReservoir);
  }
}

// Queries from elsewhere (the data moved by 4 standard deviations) make the frontier due; the
// check that runs every kRecalibrationCheckEvery searches then calibrates on the reservoir, after
// which the reference is those queries and nothing is due.
TEST_F(CalibrationLifecycleTest, DriftedQueriesStartACalibrationOnTheReservoir) {
  EXPECT_EQ(built_.recalibration_reason, "");
  Observe(Rows(0, kRecalibrationCheckEvery - 1, 7, /*shift=*/4.0f));
  EXPECT_NE(collection_->calibration_status().recalibration_reason.find("drifted"),
            std::string::npos)
      << collection_->calibration_status().recalibration_reason;
  Observe(Rows(0, 1, 8, 4.0f));  // the check
  const CalibrationStatus status =
      WaitFor(*collection_, [](const CalibrationStatus& s) { return s.source == "reservoir"; });
  EXPECT_EQ(status.recalibration_reason, "");
}

// While searches keep coming, the automatic calibration keeps to its share of a core (it pauses
// between steps); once they stop it runs unpaced to the end. A build's calibration never pauses.
TEST_F(CalibrationLifecycleTest, AnAutomaticCalibrationPausesWhileSearchesComeAndFinishes) {
  Observe(Rows(0, kRecalibrationCheckEvery - 1, 7, /*shift=*/4.0f));
  Observe(Rows(0, 1, 8, 4.0f));  // the check: it starts on the drifted reservoir
  std::atomic<bool> searching{true};
  std::thread searches([&] {
    const std::vector<float> prefix(8, 0.5f);  // a prefix query: not offered to the reservoir
    while (searching) {
      collection_->ObserveSearch(prefix, 8, 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  bool paused = false;
  for (int attempt = 0; attempt < kWaitPolls && !paused; ++attempt) {
    const CalibrationStatus status = collection_->calibration_status();
    paused = status.state == "calibrating" && status.paused_seconds > 0;
    if (status.state != "calibrating" && status.source == "reservoir") break;  // done unpaused
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  searching = false;
  searches.join();
  EXPECT_TRUE(paused) << "the automatic calibration never paused while searches came";
  const CalibrationStatus done =
      WaitFor(*collection_, [](const CalibrationStatus& s) { return s.source == "reservoir"; });
  EXPECT_EQ(done.state, "ready");
  EXPECT_GT(done.paused_seconds, 0);
  EXPECT_EQ(built_.paused_seconds, 0);  // the build's calibration: not automatic
}

// A fifth more rows is a reason too; a restart keeps every point's source and the reference.
TEST_F(CalibrationLifecycleTest, GrowthIsDueAndARestartKeepsSources) {
  std::vector<uint64_t> ids;
  for (uint64_t id = kRows; id < kRows + kRows / 4; ++id) ids.push_back(id);
  ASSERT_TRUE(collection_->Upsert(ids, Rows(kRows, ids.size(), 9)).ok());
  EXPECT_NE(collection_->calibration_status().recalibration_reason.find("grew"), std::string::npos);
  const std::string source = collection_->calibration_status().source;
  collection_.reset();
  engine_.reset();
  Open();
  auto reopened = engine_->Find("life");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  const CalibrationStatus status = (*reopened)->calibration_status();
  EXPECT_EQ(status.state, "ready");
  EXPECT_EQ(status.source, source);
  EXPECT_NE(status.recalibration_reason.find("grew"), std::string::npos);
  EXPECT_EQ(status.reservoir_queries, 0u);  // the reservoir lives in memory only
}

// A tiered collection (8 of 16 dims resident) calibrates as well: its held-out and flat points are
// measured against full-dim truth read from storage, every re-rank point is at the full dim (the
// only one worth its read), and a target-recall search gets a plan that reaches the target on
// exact truth the test computes itself.
TEST(TieredCalibrationTest, BuildsCalibrateAgainstFullDimTruthFromStorage) {
  testing::TempDir dir;
  CollectionOptions options;
  options.calibration_queries = 60;
  options.calibration_reservoir = 0;
  auto engine = Engine::Open(dir.path(), {}, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  storage::CollectionMeta meta;
  meta.name = "tiered";
  meta.dim = kDim;
  meta.metric = Metric::kL2;
  meta.resident_dims = 8;
  auto created = (*engine)->CreateCollection(meta);
  ASSERT_TRUE(created.ok()) << created.status();
  Collection& collection = **created;
  const std::vector<float> rows = Rows(0, kRows, 1);
  std::vector<uint64_t> ids(kRows);
  for (uint64_t id = 0; id < kRows; ++id) ids[id] = id;
  ASSERT_TRUE(collection.Upsert(ids, rows).ok());
  EXPECT_EQ(collection.vector_memory_bytes(), kRows * 8 * sizeof(float));
  index::IvfBuildParams ivf;
  ivf.nlist = 16;
  ivf.coarse_dims = 4;
  std::vector<BuildRequest> builds;
  builds.push_back(MakeIvfBuild(ivf, Metric::kL2));
  ASSERT_TRUE(collection.StartBuilds(std::move(builds)).ok());
  ASSERT_TRUE(WaitForReadyBuilds(collection));
  const CalibrationStatus status = WaitFor(collection, HasFlatPoints);
  EXPECT_EQ(status.source, "held_out+self");
  size_t points = 0;
  for (const uint32_t k : {1u, 10u, 100u}) {
    for (const index::CalibrationPoint& point : Points(status, k)) {
      ++points;
      EXPECT_LE(point.plan.search_dims.value_or(8), 8u) << point.plan.index;
      if (point.plan.has_rerank()) {
        EXPECT_EQ(*point.plan.rerank_dims, kDim);
      }
    }
  }
  EXPECT_GT(points, 0u);

  // A target of 0.9 at k = 10 over 100 fresh queries, against exact full-dim truth.
  constexpr uint32_t kK = 10;
  const std::vector<float> queries = Rows(kRows, 100, 7);
  index::Budget budget;
  budget.target_recall = 0.9f;
  const absl::StatusOr<SearchOutcome> outcome =
      collection.Search(queries, kDim, 100, kK, budget, SearchDevice::kCpu, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  double found = 0;
  for (size_t q = 0; q < 100; ++q) {
    std::vector<std::pair<double, uint64_t>> exact;
    for (uint64_t id = 0; id < kRows; ++id) {
      double d = 0;
      for (uint32_t j = 0; j < kDim; ++j) {
        const double diff = double(queries[q * kDim + j]) - rows[id * kDim + j];
        d += diff * diff;
      }
      exact.emplace_back(d, id);
    }
    std::partial_sort(exact.begin(), exact.begin() + kK, exact.end());
    for (const index::Hit& hit : outcome->results[q].hits) {
      for (uint32_t i = 0; i < kK; ++i) found += exact[i].second == hit.id;
    }
    if (outcome->results[q].plan.has_rerank()) {
      EXPECT_GT(outcome->results[q].cost.vectors_fetched, 0u);
    }
  }
  const double recall = found / (100.0 * kK);
  const index::Plan& chosen = outcome->results[0].plan;
  std::cout << "[tiered calibration] plan " << chosen.index << " nprobe "
            << chosen.nprobe.value_or(0) << " coarse " << chosen.coarse_dims.value_or(0)
            << " search " << chosen.search_dims.value_or(0) << " rerank "
            << chosen.rerank_dims.value_or(0) << "x" << chosen.rerank_candidates.value_or(0)
            << " estimate " << (outcome->estimate ? outcome->estimate->recall : -1) << " recall@10 "
            << recall << "\n";
  EXPECT_GE(recall, 0.85);  // the target, less what 100 queries' sampling error allows
}

}  // namespace
}  // namespace adanns::server
