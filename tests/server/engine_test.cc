// Engine and Collection over a real RocksDB: reopen restores every collection and vector, drop
// refuses later writes, and searches run safely while writers upsert and delete.
#include "server/engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/common/disk_full_fs.h"
#include "tests/common/temp_dir.h"
#include "tests/server/engine_test_util.h"

namespace adanns::server {
namespace {

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
  EXPECT_TRUE(all[0]->Get(std::vector<uint64_t>{6, 7, 499}, &found, &missing).ok());
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

// A stream commits its next message while the applier copies the last one into the table. Writes
// committed back to back, overlapping in ids, reach the table in commit order (as RocksDB has
// them), and a delete issued before they are applied sees them all.
TEST(EngineTest, CommittedWritesReachTheTableInCommitOrder) {
  testing::TempDir dir;
  auto batch_of = [](uint64_t first, uint64_t count, float value,
                     std::shared_ptr<std::vector<float>>& storage) {
    storage = std::make_shared<std::vector<float>>(count * kDim, value);
    UpsertBatch batch;
    for (uint64_t i = 0; i < count; ++i) {
      batch.ids.push_back(first + i);
      batch.rows.push_back(storage->data() + i * kDim);
    }
    batch.owner = storage;
    return batch;
  };
  auto value_of = [](Collection& collection, uint64_t id) -> std::optional<float> {
    std::vector<std::pair<uint64_t, std::vector<float>>> found;
    std::vector<uint64_t> missing;
    EXPECT_TRUE(collection.Get(std::vector<uint64_t>{id}, &found, &missing).ok());
    if (found.empty()) return std::nullopt;
    return found[0].second[0];
  };
  {
    auto engine = Engine::Open(dir.path());
    ASSERT_TRUE(engine.ok());
    auto a = (*engine)->CreateCollection(Meta("a"));
    ASSERT_TRUE(a.ok());
    uint64_t last = 0;
    for (int round = 0; round < 20; ++round) {  // more than kMaxPendingApplies at once
      std::shared_ptr<std::vector<float>> storage;
      auto ticket = (*a)->CommitUpsert(batch_of(round * 10, 100, float(round), storage));
      ASSERT_TRUE(ticket.ok()) << ticket.status();
      EXPECT_GT(*ticket, last);
      last = *ticket;
    }
    // Not waited for: the delete waits for every committed write before it reads the table.
    auto deleted = (*a)->Delete(std::vector<uint64_t>{0, 285, 5000});
    ASSERT_TRUE(deleted.ok());
    EXPECT_EQ(*deleted, 2u);
    (*a)->WaitApplied(last);
    // id 50 was last written by round 5 (rounds 0..5 cover it); id 280 by round 19.
    EXPECT_EQ(value_of(**a, 50), 5.0f);
    EXPECT_EQ(value_of(**a, 280), 19.0f);
    EXPECT_EQ(value_of(**a, 0), std::nullopt);
    EXPECT_EQ((*a)->size(), 290u - 2u);
  }
  auto engine = Engine::Open(dir.path());  // storage agrees with what the table had
  ASSERT_TRUE(engine.ok());
  auto a = (*engine)->Find("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(value_of(**a, 50), 5.0f);
  EXPECT_EQ(value_of(**a, 280), 19.0f);
  EXPECT_EQ(value_of(**a, 285), std::nullopt);
  EXPECT_EQ((*a)->size(), 288u);
}

// A full disk: upserts and deletes answer RESOURCE_EXHAUSTED naming it and write nothing,
// searches and reads go on, writes resume by themselves once space is back, and everything
// acknowledged survives a reopen.
TEST(EngineTest, AFullDiskRefusesWritesUntilSpaceReturns) {
  testing::TempDir dir;
  auto fs = std::make_shared<testing::DiskFullFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  storage::StoreOptions store;
  store.env = env.get();
  {
    auto engine = Engine::Open(dir.path(), store);
    ASSERT_TRUE(engine.ok()) << engine.status();
    auto created = (*engine)->CreateCollection(Meta("a"));
    ASSERT_TRUE(created.ok());
    Collection& collection = **created;
    ASSERT_TRUE(UpsertRange(collection, 0, 100).ok());

    fs->SetFull(true);
    for (int attempt = 0; attempt < 2; ++attempt) {
      const absl::Status refused = UpsertRange(collection, 100, 50);
      EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
      EXPECT_NE(refused.message().find("space"), std::string::npos) << refused;
    }
    const absl::StatusOr<uint64_t> not_deleted = collection.Delete(std::vector<uint64_t>{1, 2});
    EXPECT_EQ(not_deleted.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(collection.size(), 100u);  // nothing applied
    auto results = collection.Search(Values(5), kDim, 1, 10, {}, SearchDevice::kAuto, nullptr);
    ASSERT_TRUE(results.ok()) << results.status();
    EXPECT_EQ(results->results.front().hits.size(), 10u);
    std::vector<std::pair<uint64_t, std::vector<float>>> found;
    std::vector<uint64_t> missing;
    EXPECT_TRUE(collection.Get(std::vector<uint64_t>{1, 120}, &found, &missing).ok());
    EXPECT_EQ(found.size(), 1u);
    EXPECT_EQ(missing, std::vector<uint64_t>{120});

    fs->SetFull(false);
    const absl::Status resumed = UpsertRange(collection, 100, 50);
    ASSERT_TRUE(resumed.ok()) << resumed;
    EXPECT_EQ(collection.size(), 150u);
  }
  auto engine = Engine::Open(dir.path());
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto reopened = (*engine)->Find("a");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), 150u);
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
        auto results = collection.Search(query, kDim, 1, 10, {}, SearchDevice::kAuto, nullptr);
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

}  // namespace
}  // namespace adanns::server
