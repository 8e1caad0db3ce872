// Engine and Collection over a real RocksDB: reopen restores every collection and vector, drop
// refuses later writes, and searches run safely while writers upsert and delete.
#include "server/engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::server {
namespace {

constexpr uint32_t kDim = 12;

storage::CollectionMeta Meta(const std::string& name, Metric metric = Metric::kL2) {
  storage::CollectionMeta meta;
  meta.name = name;
  meta.dim = kDim;
  meta.metric = metric;
  return meta;
}

std::vector<float> Values(uint64_t id) {
  std::vector<float> v(kDim);
  for (uint32_t j = 0; j < kDim; ++j) v[j] = static_cast<float>(id % 97) * 0.5f - j;
  return v;
}

absl::Status UpsertRange(Collection& collection, uint64_t first, uint64_t count) {
  std::vector<uint64_t> ids;
  std::vector<float> values;
  for (uint64_t id = first; id < first + count; ++id) {
    ids.push_back(id);
    const auto v = Values(id);
    values.insert(values.end(), v.begin(), v.end());
  }
  return collection.Upsert(ids, values);
}

TEST(EngineTest, ReopenRestoresCollectionsAndVectors) {
  testing::TempDir dir;
  {
    auto engine = Engine::Open(dir.path());
    ASSERT_TRUE(engine.ok()) << engine.status();
    auto a = (*engine)->CreateCollection(Meta("a"));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ((*a)->meta().nesting_dims, (std::vector<uint32_t>{8, 12}));
    ASSERT_TRUE((*engine)->CreateCollection(Meta("b", Metric::kCosine)).ok());
    EXPECT_EQ((*engine)->CreateCollection(Meta("a")).status().code(),
              absl::StatusCode::kAlreadyExists);
    ASSERT_TRUE(UpsertRange(**a, 0, 500).ok());
    ASSERT_TRUE((*a)->Delete(std::vector<uint64_t>{7, 8, 9999}).ok());
  }
  auto engine = Engine::Open(dir.path());
  ASSERT_TRUE(engine.ok());
  auto all = (*engine)->List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->meta().name, "a");
  EXPECT_EQ(all[1]->meta().metric, Metric::kCosine);
  EXPECT_EQ(all[0]->size(), 498u);
  std::vector<std::pair<uint64_t, std::vector<float>>> found;
  std::vector<uint64_t> missing;
  all[0]->Get(std::vector<uint64_t>{6, 7, 499}, &found, &missing);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].second, Values(499));
  EXPECT_EQ(missing, std::vector<uint64_t>{7});
}

TEST(EngineTest, DropRefusesLaterWritesAndForgetsTheName) {
  testing::TempDir dir;
  auto engine = Engine::Open(dir.path());
  ASSERT_TRUE(engine.ok());
  auto a = (*engine)->CreateCollection(Meta("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(UpsertRange(**a, 0, 100).ok());
  auto dropped = (*engine)->Drop("a");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 100u);
  EXPECT_EQ(UpsertRange(**a, 0, 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*engine)->Find("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*engine)->Drop("a").status().code(), absl::StatusCode::kNotFound);
  auto again = (*engine)->CreateCollection(Meta("a"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->size(), 0u);
}

// Readers and writers at once: every search sees a consistent table (k hits, sorted, live ids).
TEST(EngineTest, SearchesDuringWritesAreConsistent) {
  testing::TempDir dir;
  auto engine = Engine::Open(dir.path());
  ASSERT_TRUE(engine.ok());
  auto created = (*engine)->CreateCollection(Meta("a"));
  ASSERT_TRUE(created.ok());
  Collection& collection = **created;
  ASSERT_TRUE(UpsertRange(collection, 0, 1000).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    std::mt19937 rng(3);
    for (int round = 0; round < 60; ++round) {
      const uint64_t first = rng() % 2000;
      if (!UpsertRange(collection, first, 20).ok()) ++failures;
      std::vector<uint64_t> victims = {rng() % 2000, rng() % 2000};
      if (!collection.Delete(victims).ok()) ++failures;
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      const std::vector<float> query = Values(5);
      while (!stop) {
        auto results = collection.Search(query, kDim, 1, 10, {}, SearchDevice::kAuto, 1);
        if (!results.ok() || results->results.front().hits.size() != 10) ++failures;
        const auto& hits = results->results.front().hits;
        for (size_t i = 1; i < hits.size(); ++i) {
          if (hits[i].score < hits[i - 1].score) ++failures;
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
}

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
        auto results = collection.Search(query, kDim, 1, 10, budget, SearchDevice::kAuto, 1);
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
      auto results =
          collection.Search(query, kDim, 1, 10, PlanOn(kind, exhaustive), SearchDevice::kAuto, 1);
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
