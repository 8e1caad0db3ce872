// Durability of acknowledged writes across a power cut, with a file system double that keeps only
// what was fsynced (tests/common/power_cut_fs.h). A control run without sync proves the double
// really loses unsynced data.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "storage/rocks_store.h"
#include "tests/common/power_cut_fs.h"
#include "tests/common/temp_dir.h"

namespace adanns::storage {
namespace {

using ::adanns::testing::PowerCutFileSystem;
using ::adanns::testing::TempDir;

TEST(PowerCutFileSystemTest, KeepsOnlySyncedBytes) {
  TempDir dir;
  auto fs = std::make_shared<PowerCutFileSystem>(rocksdb::FileSystem::Default());
  const std::string synced_name = dir.path() + "/synced";
  const std::string closed_name = dir.path() + "/closed_only";
  const rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSWritableFile> synced;
  std::unique_ptr<rocksdb::FSWritableFile> closed;
  ASSERT_TRUE(fs->NewWritableFile(dir.path() + "/tmp", {}, &synced, nullptr).ok());
  ASSERT_TRUE(fs->NewWritableFile(closed_name, {}, &closed, nullptr).ok());
  ASSERT_TRUE(synced->Append("durable", io, nullptr).ok());
  ASSERT_TRUE(synced->Sync(io, nullptr).ok());
  ASSERT_TRUE(fs->RenameFile(dir.path() + "/tmp", synced_name, io, nullptr).ok());
  ASSERT_TRUE(synced->Append("+lost", io, nullptr).ok());
  ASSERT_TRUE(synced->Flush(io, nullptr).ok());
  ASSERT_TRUE(closed->Append("lost too", io, nullptr).ok());
  ASSERT_TRUE(closed->Close(io, nullptr).ok());
  fs->CutPower();
  EXPECT_FALSE(synced->Sync(io, nullptr).ok());
  EXPECT_TRUE(synced->Close(io, nullptr).ok());

  EXPECT_EQ(fs->DiscardUnsyncedData(), 5u + 8u);
  EXPECT_EQ(std::filesystem::file_size(synced_name), 7u);
  EXPECT_EQ(std::filesystem::file_size(closed_name), 0u);
}

// What survived a power cut, compared with what the store acknowledged.
struct Survivors {
  bool collection_survived = false;
  size_t acknowledged_rows = 0;  // rows the last acknowledged writes left in place
  size_t lost_rows = 0;          // acknowledged rows missing or with other bytes
  size_t resurrected_rows = 0;   // rows present although their deletion was acknowledged
  uint64_t unsynced_bytes = 0;   // what the double discarded
};

Survivors WriteCutAndReopen(bool sync_writes) {
  TempDir dir;
  auto fs = std::make_shared<PowerCutFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  constexpr uint32_t kDim = 8;
  std::map<uint64_t, std::string> expected;  // id -> bytes, as acknowledged
  Survivors survivors;
  {
    StoreOptions options;
    options.sync_writes = sync_writes;
    options.env = env.get();
    absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir.path(), options);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return survivors;
    CollectionMeta meta;
    meta.name = "vectors";
    meta.dim = kDim;
    EXPECT_TRUE((*store)->CreateCollection(meta).ok());
    // Rounds overlap so later puts replace earlier rows; every third round deletes some.
    for (uint64_t round = 0; round < 60; ++round) {
      std::vector<uint64_t> ids = {round * 3, round * 3 + 1, round * 3 + 4, round * 3 + 5};
      std::vector<float> values(ids.size() * kDim);
      for (size_t i = 0; i < values.size(); ++i) values[i] = -0.25f * i + round;
      EXPECT_TRUE((*store)->PutVectors(1, kDim, ids, values).ok());
      for (size_t i = 0; i < ids.size(); ++i) {
        expected[ids[i]] =
            std::string(reinterpret_cast<const char*>(&values[i * kDim]), kDim * sizeof(float));
      }
      if (round % 3 == 2) {
        const std::vector<uint64_t> doomed = {round * 3 + 1, round + 100000};
        EXPECT_TRUE((*store)->DeleteVectors(1, doomed).ok());
        for (uint64_t id : doomed) expected.erase(id);
      }
    }
    fs->CutPower();
  }  // the store closes after the cut, so its shutdown can persist nothing more
  survivors.unsynced_bytes = fs->DiscardUnsyncedData();
  survivors.acknowledged_rows = expected.size();

  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir.path());
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return survivors;
  absl::StatusOr<std::vector<CollectionMeta>> list = (*store)->ListCollections();
  EXPECT_TRUE(list.ok()) << list.status();
  survivors.collection_survived = list.ok() && list->size() == 1 && (*list)[0].id == 1;
  std::map<uint64_t, std::string> found;
  EXPECT_TRUE((*store)
                  ->ScanVectors(1, kDim,
                                [&](uint64_t id, std::span<const float> values) {
                                  found[id] =
                                      std::string(reinterpret_cast<const char*>(values.data()),
                                                  values.size_bytes());
                                })
                  .ok());
  for (const auto& [id, bytes] : expected) {
    auto it = found.find(id);
    if (it == found.end() || it->second != bytes) ++survivors.lost_rows;
  }
  for (const auto& [id, bytes] : found) {
    if (!expected.contains(id)) ++survivors.resurrected_rows;
  }
  return survivors;
}

TEST(PowerCutTest, AcknowledgedWritesSurviveWithSyncedWrites) {
  const Survivors survivors = WriteCutAndReopen(/*sync_writes=*/true);
  EXPECT_TRUE(survivors.collection_survived);
  EXPECT_GT(survivors.acknowledged_rows, 100u);
  EXPECT_EQ(survivors.lost_rows, 0u);
  EXPECT_EQ(survivors.resurrected_rows, 0u);
}

// Control: the same run without sync must lose acknowledged data, or the test above proves nothing.
TEST(PowerCutTest, UnsyncedWritesAreLostSoTheDoubleIsReal) {
  const Survivors survivors = WriteCutAndReopen(/*sync_writes=*/false);
  EXPECT_GT(survivors.unsynced_bytes, 0u);
  EXPECT_GT(survivors.lost_rows, 0u);
}

}  // namespace
}  // namespace adanns::storage
