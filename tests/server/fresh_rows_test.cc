// Collection's fresh rows under load, over a real RocksDB: acknowledged rows are found exactly by
// every plan before the indexes absorb them, holds do bounded work, a backlog at the cap refuses
// upserts, a tiered collection shortlists its fresh rows, and everything at once stays safe.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <random>
#include <span>
#include <thread>

#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "server/engine.h"
#include "tests/common/temp_dir.h"
#include "tests/server/engine_test_util.h"

namespace adanns::server {
namespace {

// Clustered vectors (the IVF has structure to find), seeded by id so any thread can rebuild them.
std::vector<float> ClusteredValues(uint64_t id, uint64_t version) {
  std::mt19937 rng(static_cast<uint32_t>(id * 7919 + version));
  std::normal_distribution<float> noise(0.f, 0.3f);
  std::vector<float> v(kDim);
  for (uint32_t j = 0; j < kDim; ++j) v[j] = static_cast<float>((id + version) % 16) + noise(rng);
  return v;
}

bool Ready(const Collection& collection, std::string_view kind) {
  for (const IndexStatus& status : collection.Indexes()) {
    if (status.name == kind) return status.state == "ready";
  }
  return false;
}

// The stress test's codebook: 8 bytes on the 8-dim prefix.
constexpr char kCodebook[] = "opq8x8";

// An explicit plan on `kind` that looks at `breadth` lists (IVF, and the IVF's lists scored by
// the codebook for "ivf_opq"), candidates (graph) or re-rank candidates (the codebook).
index::Budget PlanOn(std::string_view kind, uint32_t breadth) {
  index::Plan plan;
  plan.index = std::string(kind);
  if (kind == kIvfIndexName || kind == "ivf_opq") {
    plan.nprobe = breadth;
    plan.rerank_candidates = 50;
  } else if (kind == kCodebook) {
    plan.index = "opq";
    plan.rerank_candidates = breadth;
  } else {
    plan.ef = breadth;
  }
  index::Budget budget;
  budget.plan = plan;
  return budget;
}

// Waits (bounded) until every build has finished.
void WaitForBuilds(const Collection& collection) {
  for (int wait = 0; wait < 30000; ++wait) {
    bool building = false;
    for (const IndexStatus& status : collection.Indexes()) building |= status.state == "building";
    if (!building) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// A collection of 2000 clustered vectors with an IVF, a graph and a codebook, all ready.
class FreshRowsTest : public ::testing::Test {
 protected:
  // `resident_dims` 0: every dim in memory; else a tiered collection (every index fits in 8).
  void Open(CollectionOptions options = {}, uint32_t resident_dims = 0) {
    options.auto_calibrate = false;
    auto engine = Engine::Open(dir_.path(), {}, options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    storage::CollectionMeta meta = Meta("fresh");
    meta.resident_dims = resident_dims;
    auto created = engine_->CreateCollection(meta);
    ASSERT_TRUE(created.ok());
    collection_ = *created;
    std::vector<uint64_t> ids;
    std::vector<float> values;
    for (uint64_t id = 0; id < 2000; ++id) {
      ids.push_back(id);
      const auto v = ClusteredValues(id, 1);
      values.insert(values.end(), v.begin(), v.end());
    }
    ASSERT_TRUE(collection_->Upsert(ids, values).ok());
    index::IvfBuildParams ivf;
    ivf.nlist = 16;
    ivf.coarse_dims = 4;
    ivf.search_dims = 8;
    quant::OpqBuildParams opq;
    opq.spec = {8, 8};
    opq.opq_iterations = 2;
    std::vector<BuildRequest> builds;
    builds.push_back(MakeIvfBuild(ivf, Metric::kL2));
    builds.push_back(MakeHnswBuild({.graph_dims = 6, .m = 8, .ef_construction = 40}, Metric::kL2));
    builds.push_back(MakeOpqBuild(opq, Metric::kL2));
    ASSERT_TRUE(collection_->StartBuilds(std::move(builds)).ok());
    WaitForBuilds(*collection_);
    for (const char* kind : {kIvfIndexName, kHnswIndexName, kCodebook}) {
      ASSERT_TRUE(Ready(*collection_, kind)) << kind;
    }
  }

  // Opens with a fresh-row cap of 100 and the absorber paused, then upserts 150 rows (more than
  // the cap: admitted alone into the empty backlog), so that the next upsert must wait for room.
  void OpenWithFullBacklog(std::chrono::milliseconds fresh_rows_wait) {
    CollectionOptions options;
    options.fresh_rows_cap = 100;
    options.fresh_rows_wait = fresh_rows_wait;
    Open(options);
    collection_->PauseIndexMaintenance(true);
    ASSERT_TRUE(UpsertRange(*collection_, 20000, 150).ok());
  }

  // The top hit of `query` under `budget`.
  absl::StatusOr<index::SearchResult> Search(const std::vector<float>& query,
                                             const index::Budget& budget) {
    ASSIGN_OR_RETURN(SearchOutcome outcome,
                     collection_->Search(query, kDim, 1, 10, budget, SearchDevice::kAuto, nullptr));
    return std::move(outcome.results.front());
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<Collection> collection_;
};

// On a tiered collection a backlog of fresh rows is shortlisted on the resident prefix before the
// exact re-rank: a search reads at most the index's candidates plus the shortlist from storage,
// and still finds a fresh row exactly.
TEST_F(FreshRowsTest, ATieredCollectionReadsOnlyAShortlistOfItsFreshRows) {
  constexpr uint32_t kResident = 8;
  Open({}, kResident);
  ASSERT_EQ(collection_->resident_dims(), kResident);
  collection_->PauseIndexMaintenance(true);
  constexpr uint64_t kFresh = 600;
  std::vector<uint64_t> ids;
  std::vector<float> values;
  for (uint64_t i = 0; i < kFresh; ++i) {
    ids.push_back(10000 + i);
    const std::vector<float> v = ClusteredValues(10000 + i, 2);
    values.insert(values.end(), v.begin(), v.end());
  }
  ASSERT_TRUE(collection_->Upsert(ids, values).ok());
  ASSERT_EQ(collection_->fresh_rows(), kFresh);
  const std::vector<float> query(values.begin() + 123 * kDim, values.begin() + 124 * kDim);
  absl::StatusOr<index::SearchResult> result = Search(query, PlanOn(kIvfIndexName, 4));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->hits.empty());
  EXPECT_EQ(result->hits[0].id, 10123u);
  EXPECT_EQ(result->hits[0].score, 0.f);
  EXPECT_GE(result->cost.vectors_scanned, kFresh);  // every fresh row scored, on the prefix
  // The IVF's 50 re-rank candidates and the shortlist of max(10 k, 100) fresh rows.
  EXPECT_GT(result->cost.vectors_fetched, 0u);
  EXPECT_LE(result->cost.vectors_fetched,
            50u + std::max<size_t>(kFreshShortlistPerK * 10, kFreshShortlistMin));
  collection_->PauseIndexMaintenance(false);
}

// Under a backlog, a funnel plan (IVF on an 8-dim scan prefix, re-rank at all 12 dims) re-ranks
// only the fresh rows whose prefix distance is within the index's k-th final distance: a fresh
// row of the exact top 10 is always returned, and a backlog far from the query costs its prefix
// scan alone (nothing re-ranked).
TEST_F(FreshRowsTest, FreshRowsPastTheIndexsKthDistanceOnTheirPrefixAreNotReranked) {
  Open();
  collection_->PauseIndexMaintenance(true);
  const index::Budget budget = PlanOn(kIvfIndexName, 4);
  std::vector<std::vector<float>> queries;
  for (uint64_t id = 0; id < 2000; id += 97) queries.push_back(ClusteredValues(id, 1));
  std::vector<double> mflops_before;
  for (const std::vector<float>& query : queries) {
    absl::StatusOr<index::SearchResult> result = Search(query, budget);
    ASSERT_TRUE(result.ok()) << result.status();
    mflops_before.push_back(result->cost.mflops);
  }
  // 300 rows far from every cluster (+100 on every dim): the index's hits stand, and the backlog
  // costs its prefix scan alone.
  constexpr uint64_t kFar = 300;
  constexpr uint64_t kNear = 300;
  std::vector<uint64_t> ids;
  std::vector<float> values;
  for (uint64_t i = 0; i < kFar + kNear; ++i) {
    ids.push_back(10000 + i);
    std::vector<float> v = ClusteredValues(10000 + i, 2);
    if (i < kFar) {
      for (float& x : v) x += 100.f;
    }
    values.insert(values.end(), v.begin(), v.end());
  }
  ASSERT_TRUE(
      collection_->Upsert(std::span(ids).first(kFar), std::span(values).first(kFar * kDim)).ok());
  ASSERT_EQ(collection_->fresh_rows(), kFar);
  for (size_t q = 0; q < queries.size(); ++q) {
    absl::StatusOr<index::SearchResult> result = Search(queries[q], budget);
    ASSERT_TRUE(result.ok()) << result.status();
    for (const index::Hit& hit : result->hits) EXPECT_LT(hit.id, 10000u);
    EXPECT_NEAR(result->cost.mflops,
                mflops_before[q] + kFar * index::TableRowFlops(Metric::kL2, 8) / 1e6, 1e-9)
        << "query " << q;
  }
  // 300 more inside the clusters.
  ASSERT_TRUE(
      collection_->Upsert(std::span(ids).subspan(kFar), std::span(values).subspan(kFar * kDim))
          .ok());
  ASSERT_EQ(collection_->fresh_rows(), kFar + kNear);
  // Near rows: every fresh row of the exact top 10 is returned, at its exact distance.
  size_t fresh_in_truth = 0;
  for (uint64_t i = kFar; i < kFar + kNear; i += 7) {
    std::vector<float> query(values.begin() + i * kDim, values.begin() + (i + 1) * kDim);
    for (float& x : query) x += 0.05f;
    absl::StatusOr<std::vector<uint64_t>> truth = collection_->ExactNearestIds(query, 10);
    ASSERT_TRUE(truth.ok()) << truth.status();
    absl::StatusOr<index::SearchResult> result = Search(query, budget);
    ASSERT_TRUE(result.ok()) << result.status();
    for (const uint64_t id : *truth) {
      if (id < 10000) continue;
      ++fresh_in_truth;
      EXPECT_TRUE(std::any_of(result->hits.begin(), result->hits.end(),
                              [id](const index::Hit& hit) { return hit.id == id; }))
          << "fresh id " << id << " of the exact top 10 is missing (query near row " << i << ")";
    }
  }
  EXPECT_GT(fresh_in_truth, 0u);
  collection_->PauseIndexMaintenance(false);
}

// Lists probed (IVF), beam width (graph) or re-rank candidates (codebook) for a k = 10 search.
uint32_t Breadth(std::string_view kind) {
  return kind == kCodebook ? 100 : kind == kHnswIndexName ? 32 : 4;
}

// An acknowledged vector is found at once, exactly, by every plan kind, while the indexes have
// not absorbed it (the absorber is paused): a new id, and a moved id at its new vector (the
// index's stale entry is not returned).
TEST_F(FreshRowsTest, AcknowledgedRowsAreFoundByEveryPlanBeforeTheIndexesAbsorbThem) {
  Open();
  collection_->PauseIndexMaintenance(true);
  const std::vector<float> added(kDim, 1000.f);  // far from every cluster
  ASSERT_TRUE(collection_->Upsert(std::vector<uint64_t>{5000}, added).ok());
  const std::vector<float> moved(kDim, -1000.f);
  ASSERT_TRUE(collection_->Upsert(std::vector<uint64_t>{7}, moved).ok());
  EXPECT_EQ(collection_->fresh_rows(), 2u);
  const std::vector<float> old_seven = ClusteredValues(7, 1);
  for (const std::string_view kind : {"ivf", "hnsw", "opq8x8", "ivf_opq"}) {
    SCOPED_TRACE(kind);
    for (const auto& [id, query] :
         {std::pair{uint64_t{5000}, added}, std::pair{uint64_t{7}, moved}}) {
      absl::StatusOr<index::SearchResult> result = Search(query, PlanOn(kind, Breadth(kind)));
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_FALSE(result->hits.empty());
      EXPECT_EQ(result->hits[0].id, id);
      EXPECT_EQ(result->hits[0].score, 0.f);
      EXPECT_GE(result->cost.vectors_scanned, 2u);  // the exact scan of the fresh rows is charged
    }
    // Id 7 no longer answers at its old vector.
    absl::StatusOr<index::SearchResult> old = Search(old_seven, PlanOn(kind, Breadth(kind)));
    ASSERT_TRUE(old.ok());
    for (const index::Hit& hit : old->hits) EXPECT_NE(hit.id, 7u);
  }
  collection_->PauseIndexMaintenance(false);
  for (int wait = 0; wait < 5000 && collection_->fresh_rows() > 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(collection_->fresh_rows(), 0u);
  // Absorbed: the indexes find them themselves.
  for (const char* kind : {kIvfIndexName, kHnswIndexName}) {
    absl::StatusOr<index::SearchResult> result = Search(added, PlanOn(kind, 16));
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->hits[0].id, 5000u) << kind;
    EXPECT_EQ(result->hits[0].score, 0.f) << kind;
  }
}

// No exclusive hold applies more than kTableRowsPerHold rows to the table or inserts more than
// kIndexRowsPerHold rows into the indexes, whatever the message size.
TEST_F(FreshRowsTest, ExclusiveHoldsDoBoundedWork) {
  Open();
  ASSERT_TRUE(UpsertRange(*collection_, 10000, 3000).ok());
  ASSERT_TRUE(collection_
                  ->Delete([] {
                    std::vector<uint64_t> ids;
                    for (uint64_t id = 10000; id < 11000; ++id) ids.push_back(id);
                    return ids;
                  }())
                  .ok());
  // A bound, not a timing: under TSAN beside a parallel build 3000 rows took over 30 s.
  for (int wait = 0; wait < 120000 && collection_->fresh_rows() > 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(collection_->fresh_rows(), 0u);
  const HoldStats holds = collection_->hold_stats();
  EXPECT_EQ(holds.max_table_rows, kTableRowsPerHold);  // the 3000-row message was split
  EXPECT_GE(holds.max_index_rows, 1u);
  EXPECT_LE(holds.max_index_rows, kIndexRowsPerHold);
}

// When the indexes fall behind, upserts wait and then get RESOURCE_EXHAUSTED with nothing
// written; once the absorber catches up they are taken again.
TEST_F(FreshRowsTest, ABacklogAtTheCapRefusesUpsertsWithoutWritingThem) {
  OpenWithFullBacklog(std::chrono::milliseconds(50));
  const absl::Status refused = UpsertRange(*collection_, 30000, 10);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("150 acknowledged vectors are still waiting"), std::string::npos)
      << refused;
  std::vector<std::pair<uint64_t, std::vector<float>>> found;
  std::vector<uint64_t> missing;
  EXPECT_TRUE(collection_->Get(std::vector<uint64_t>{30000, 20149}, &found, &missing).ok());
  EXPECT_EQ(missing, std::vector<uint64_t>{30000});
  collection_->PauseIndexMaintenance(false);
  // Admitted once the 10 fit under the cap.
  for (int wait = 0; wait < 30000 && collection_->fresh_rows() + 10 > 100; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(UpsertRange(*collection_, 30000, 10).ok());
}

// A writer that has waited a quarter of fresh_rows_wait for room says so (the absorber then leaves
// the idle scheduling class, which a busy machine may never run), and is admitted once there is
// room.
TEST_F(FreshRowsTest, AWriterWaitingLongForRoomIsMarkedStarvedUntilAdmitted) {
  OpenWithFullBacklog(std::chrono::milliseconds(8000));
  EXPECT_FALSE(collection_->writer_starved());
  absl::Status waited = absl::UnknownError("not run");
  std::thread writer([&] { waited = UpsertRange(*collection_, 30000, 10); });
  // A quarter of the wait is 2 s; allow 6 (the writer is refused at 8).
  for (int wait = 0; wait < 600 && !collection_->writer_starved(); ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(collection_->writer_starved());
  collection_->PauseIndexMaintenance(false);
  writer.join();
  EXPECT_TRUE(waited.ok()) << waited;
  EXPECT_FALSE(collection_->writer_starved());
}

// Searches (automatic, IVF, graph and IVF + codebook plans), upserts, deletes, re-upserts, IVF,
// graph and codebook builds, cancellations and drops all at once. Run under TSAN by
// tests/run-tsan.sh. Every search either succeeds with sorted hits or is refused because no IVF is
// ready; afterwards the index agrees with the writes.
TEST(EngineTest, SearchesDuringWritesAndRebuildsAreSafe) {
  constexpr uint64_t kIds = 3000;
  constexpr uint32_t kNlist = 16;
  testing::TempDir dir;
  // Every finished build and drop also starts a (small) calibration, cancelling the running one.
  CollectionOptions options;
  options.calibration_queries = 50;
  auto engine = Engine::Open(dir.path(), {}, options);
  ASSERT_TRUE(engine.ok());
  auto created = (*engine)->CreateCollection(Meta("stress"));
  ASSERT_TRUE(created.ok());
  Collection& collection = **created;
  std::vector<uint64_t> version(kIds, 0);  // 0 = deleted; only the writer thread touches it
  for (uint64_t id = 0; id < 2000; ++id) {
    version[id] = 1;
    ASSERT_TRUE(collection.Upsert(std::vector<uint64_t>{id}, ClusteredValues(id, 1)).ok());
  }

  index::IvfBuildParams ivf_params;
  ivf_params.nlist = kNlist;
  ivf_params.coarse_dims = 4;
  ivf_params.search_dims = 8;
  ivf_params.kmeans_iterations = 4;
  const index::HnswBuildParams hnsw_params{.graph_dims = 6, .m = 8, .ef_construction = 40};
  quant::OpqBuildParams opq_params;
  opq_params.spec = {8, 8};
  opq_params.opq_iterations = 2;
  auto build = [&](std::string_view kind) {
    if (kind == kCodebook) return MakeOpqBuild(opq_params, Metric::kL2);
    return kind == kIvfIndexName ? MakeIvfBuild(ivf_params, Metric::kL2)
                                 : MakeHnswBuild(hnsw_params, Metric::kL2);
  };
  const std::array<std::string_view, 3> kinds = {kIvfIndexName, kHnswIndexName, kCodebook};
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> index_searches{0};
  std::thread builder([&] {
    for (int round = 0; round < 12; ++round) {
      const std::string_view kind = kinds[round % 3];
      if (absl::Status started = collection.StartBuild(build(kind)).status(); !started.ok()) {
        ++failures;
        ADD_FAILURE() << started;
      }
      if (round >= 9) {  // cancel midway, one of each kind
        if (!collection.DropIndex(kind).ok()) ++failures;
        continue;
      }
      // Bounded, and generous: under TSAN a build takes seconds.
      for (int wait = 0; wait < 30000; ++wait) {
        bool building = false;
        for (const IndexStatus& status : collection.Indexes()) {
          building |= status.state == "building";
        }
        if (!building) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  });
  std::thread writer([&] {
    std::mt19937 rng(11);
    for (int round = 0; round < 400; ++round) {
      std::vector<uint64_t> ids;
      std::vector<float> values;
      for (int i = 0; i < 8; ++i) {
        const uint64_t id = rng() % kIds;
        if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
        ++version[id];  // a re-upsert moves the vector to another cluster
        const auto v = ClusteredValues(id, version[id]);
        ids.push_back(id);
        values.insert(values.end(), v.begin(), v.end());
      }
      if (!collection.Upsert(ids, values).ok()) ++failures;
      const uint64_t victim = rng() % kIds;
      if (!collection.Delete(std::vector<uint64_t>{victim}).ok()) ++failures;
      version[victim] = 0;
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      const auto query = ClusteredValues(r, 1);
      // Three readers on two cores: glibc's rwlock prefers readers, and a fourth starves the
      // writer. The first alternates the automatic plan and the IVF + codebook composite.
      for (int round = 0; !stop; ++round) {
        const bool automatic = r == 0 && round % 2 == 0;
        const index::Budget budget = automatic ? index::Budget{}
                                     : r == 0  ? PlanOn("ivf_opq", 4)
                                     : r == 1  ? PlanOn(kIvfIndexName, 4)
                                               : PlanOn(kHnswIndexName, 16);
        auto results = collection.Search(query, kDim, 1, 10, budget, SearchDevice::kAuto, nullptr);
        if (!results.ok()) {
          // Only an explicit plan may be refused, and only while its index is not ready.
          if (automatic || results.status().code() != absl::StatusCode::kNotFound) {
            ++failures;
            ADD_FAILURE() << results.status();
          }
          continue;
        }
        if (!automatic) ++index_searches;
        const auto& hits = results->results.front().hits;
        if (hits.size() != 10) ++failures;
        for (size_t i = 1; i < hits.size(); ++i) {
          if (hits[i].score < hits[i - 1].score) ++failures;
        }
      }
    });
  }
  writer.join();
  builder.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::cout << "[stress] index-plan searches served during rebuilds: " << index_searches << "\n";

  // Quiescent: a last build of each kind, then every live id is found at its latest vector and
  // no deleted id comes back, through either index.
  for (std::string_view kind : kinds) {
    ASSERT_TRUE(collection.StartBuild(build(kind)).ok());
    // Bounded, and generous for TSAN on a loaded machine.
    for (int wait = 0; wait < 30000 && !Ready(collection, kind); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(Ready(collection, kind)) << kind;
    size_t live = 0;
    const uint32_t exhaustive = kind == kIvfIndexName ? kNlist : 400;  // graph ef, codebook R
    for (uint64_t id = 0; id < kIds; ++id) {
      const auto query = ClusteredValues(id, std::max<uint64_t>(version[id], 1));
      auto results = collection.Search(query, kDim, 1, 10, PlanOn(kind, exhaustive),
                                       SearchDevice::kAuto, nullptr);
      ASSERT_TRUE(results.ok()) << results.status();
      const auto& hits = results->results.front().hits;
      if (version[id] == 0) {
        for (const index::Hit& hit : hits) EXPECT_NE(hit.id, id) << kind << ": deleted id returned";
      } else {
        ++live;
        ASSERT_FALSE(hits.empty());
        // Several ids may share a vector: the id must be among the exact ties at distance 0.
        bool found = false;
        for (const index::Hit& hit : hits) found |= hit.id == id && hit.score == 0;
        EXPECT_TRUE(found) << kind << ": live id " << id << " not found at its latest vector";
      }
    }
    EXPECT_EQ(collection.size(), live);
  }
}

}  // namespace
}  // namespace adanns::server
