// Durability of acknowledged writes across a power cut, with a file system double that keeps only
// what was fsynced. A control run without sync proves the double really loses unsynced data.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "storage/rocks_store.h"
#include "tests/common/temp_dir.h"

namespace adanns::storage {
namespace {

using ::adanns::testing::TempDir;

// The double's model of a power cut:
// - File contents: only bytes covered by a completed Sync/Fsync survive. Flush and Close merely
//   hand bytes to the OS page cache, and RangeSync (sync_file_range) flushes neither the disk
//   cache nor metadata, so none of them make data durable.
// - Directory entries (create, rename, delete) are taken as durable at once, so a file that was
//   never synced survives empty rather than vanishing. RocksDB fsyncs its directory after those
//   operations itself, and RocksStore never touches files directly, so what this test must tell
//   apart is a store that syncs its WAL from one that does not: file contents are what differ.
// The cut happens while the DB is still open: from then on every write, sync or file operation
// fails, so the DB's own shutdown cannot persist anything. Truncation waits until the DB has
// closed its files, since closing a POSIX file may trim it to the length the writer last knew.
struct TrackedFile {
  std::mutex mu;
  uint64_t written = 0;  // bytes handed to the file
  uint64_t synced = 0;   // bytes a completed Sync/Fsync made durable
};

rocksdb::IOStatus PowerIsOff() { return rocksdb::IOStatus::IOError("simulated power cut"); }

class PowerCutWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PowerCutWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file,
                       std::shared_ptr<TrackedFile> tracked, const std::atomic<bool>* power_off)
      : FSWritableFileOwnerWrapper(std::move(file)),
        tracked_(std::move(tracked)),
        power_off_(power_off) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return Wrote(target()->Append(data, options, dbg), tracked_->written + data.size());
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return Wrote(target()->Append(data, options, info, dbg), tracked_->written + data.size());
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return Wrote(target()->PositionedAppend(data, offset, options, dbg), offset + data.size());
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return Wrote(target()->PositionedAppend(data, offset, options, info, dbg),
                 offset + data.size());
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    rocksdb::IOStatus status = target()->Truncate(size, options, dbg);
    std::lock_guard<std::mutex> lock(tracked_->mu);
    if (status.ok()) {
      tracked_->written = size;
      tracked_->synced = std::min(tracked_->synced, size);
    }
    return status;
  }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return target()->Flush(options, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return target()->RangeSync(offset, nbytes, options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return Synced(target()->Sync(options, dbg));
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (*power_off_) return PowerIsOff();
    return Synced(target()->Fsync(options, dbg));
  }
  // Close is forwarded even after the cut: it only releases the descriptor.

 private:
  rocksdb::IOStatus Wrote(rocksdb::IOStatus status, uint64_t end) {
    std::lock_guard<std::mutex> lock(tracked_->mu);
    if (status.ok()) tracked_->written = std::max(tracked_->written, end);
    return status;
  }
  rocksdb::IOStatus Synced(rocksdb::IOStatus status) {
    std::lock_guard<std::mutex> lock(tracked_->mu);
    if (status.ok()) tracked_->synced = tracked_->written;
    return status;
  }

  std::shared_ptr<TrackedFile> tracked_;
  const std::atomic<bool>* power_off_;
};

class PowerCutFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerCutFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
      : FileSystemWrapper(base) {}
  const char* Name() const override { return "PowerCutFileSystem"; }

  // Power goes off now: nothing written, synced, renamed or deleted from here on takes effect.
  void CutPower() { power_off_ = true; }

  // Call after the DB is closed. Truncates every file to what was synced; returns bytes lost.
  uint64_t DiscardUnsyncedData() {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t lost = 0;
    for (const auto& [name, tracked] : files_) {
      std::error_code error;
      const uint64_t size = std::filesystem::file_size(name, error);
      if (error || size <= tracked->synced) continue;
      std::filesystem::resize_file(name, tracked->synced);
      lost += size - tracked->synced;
    }
    return lost;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (power_off_) return PowerIsOff();
    return Track(name, target()->NewWritableFile(name, options, result, dbg), 0, result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    if (power_off_) return PowerIsOff();
    // Bytes that were there before the reopen are treated as durable.
    std::error_code ignored;
    const uint64_t existing = std::filesystem::file_size(name, ignored);
    return Track(name, target()->ReopenWritableFile(name, options, result, dbg),
                 existing == static_cast<uint64_t>(-1) ? 0 : existing, result);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    if (power_off_) return PowerIsOff();
    return Track(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), 0,
                 result);
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (power_off_) return PowerIsOff();
    rocksdb::IOStatus status = target()->RenameFile(from, to, options, dbg);
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      auto node = files_.extract(from);
      files_.erase(to);
      if (!node.empty()) {
        node.key() = to;
        files_.insert(std::move(node));
      }
    }
    return status;
  }
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (power_off_) return PowerIsOff();
    rocksdb::IOStatus status = target()->DeleteFile(name, options, dbg);
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) files_.erase(name);
    return status;
  }

 private:
  rocksdb::IOStatus Track(const std::string& name, rocksdb::IOStatus status, uint64_t durable,
                          std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (!status.ok()) return status;
    auto tracked = std::make_shared<TrackedFile>();
    tracked->written = tracked->synced = durable;
    *result = std::make_unique<PowerCutWritableFile>(std::move(*result), tracked, &power_off_);
    std::lock_guard<std::mutex> lock(mu_);
    files_[name] = std::move(tracked);
    return status;
  }

  std::atomic<bool> power_off_{false};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<TrackedFile>> files_;
};

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
