// Engine and Collection over a real RocksDB: reopen restores every collection and vector, drop
// refuses later writes, and searches run safely while writers upsert and delete.
#include "server/engine.h"

#include <atomic>
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
        auto results = collection.Search(query, kDim, 1, 10, {}, 1);
        if (!results.ok() || results->front().hits.size() != 10) ++failures;
        const auto& hits = results->front().hits;
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

}  // namespace
}  // namespace adanns::server
