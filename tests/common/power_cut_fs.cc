// PowerCutFileSystem (see power_cut_fs.h).
#include "tests/common/power_cut_fs.h"

#include <algorithm>
#include <filesystem>

namespace adanns::testing {

struct PowerCutFileSystem::TrackedFile {
  std::mutex mu;
  uint64_t written = 0;  // bytes handed to the file
  uint64_t synced = 0;   // bytes a completed Sync/Fsync made durable
};

namespace {

rocksdb::IOStatus PowerIsOff() { return rocksdb::IOStatus::IOError("simulated power cut"); }

class PowerCutWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PowerCutWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file,
                       std::shared_ptr<PowerCutFileSystem::TrackedFile> tracked,
                       PowerCutFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(file)), tracked_(std::move(tracked)), fs_(fs) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->power_off()) return PowerIsOff();
    return Wrote(target()->Append(data, options, dbg), tracked_->written + data.size());
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (fs_->power_off()) return PowerIsOff();
    return Wrote(target()->Append(data, options, info, dbg), tracked_->written + data.size());
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    if (fs_->power_off()) return PowerIsOff();
    return Wrote(target()->PositionedAppend(data, offset, options, dbg), offset + data.size());
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    if (fs_->power_off()) return PowerIsOff();
    return Wrote(target()->PositionedAppend(data, offset, options, info, dbg),
                 offset + data.size());
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    if (fs_->power_off()) return PowerIsOff();
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
    if (fs_->power_off()) return PowerIsOff();
    return target()->Flush(options, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    if (fs_->power_off()) return PowerIsOff();
    return target()->RangeSync(offset, nbytes, options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (!fs_->SyncSurvives()) return PowerIsOff();
    return Synced(target()->Sync(options, dbg));
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (!fs_->SyncSurvives()) return PowerIsOff();
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

  std::shared_ptr<PowerCutFileSystem::TrackedFile> tracked_;
  PowerCutFileSystem* fs_;
};

}  // namespace

bool PowerCutFileSystem::SyncSurvives() {
  if (power_off_) return false;
  uint64_t left = syncs_until_cut_;
  while (left > 0 && !syncs_until_cut_.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 1) power_off_ = true;
  return !power_off_;
}

uint64_t PowerCutFileSystem::DiscardUnsyncedData() {
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

rocksdb::IOStatus PowerCutFileSystem::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (power_off_) return PowerIsOff();
  return Track(name, target()->NewWritableFile(name, options, result, dbg), 0, result);
}

rocksdb::IOStatus PowerCutFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (power_off_) return PowerIsOff();
  // Bytes that were there before the reopen are treated as durable.
  std::error_code ignored;
  const uint64_t existing = std::filesystem::file_size(name, ignored);
  return Track(name, target()->ReopenWritableFile(name, options, result, dbg),
               existing == static_cast<uint64_t>(-1) ? 0 : existing, result);
}

rocksdb::IOStatus PowerCutFileSystem::ReuseWritableFile(
    const std::string& name, const std::string& old_name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  if (power_off_) return PowerIsOff();
  return Track(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), 0, result);
}

rocksdb::IOStatus PowerCutFileSystem::RenameFile(const std::string& from, const std::string& to,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
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

rocksdb::IOStatus PowerCutFileSystem::DeleteFile(const std::string& name,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  if (power_off_) return PowerIsOff();
  rocksdb::IOStatus status = target()->DeleteFile(name, options, dbg);
  std::lock_guard<std::mutex> lock(mu_);
  if (status.ok()) files_.erase(name);
  return status;
}

rocksdb::IOStatus PowerCutFileSystem::Track(const std::string& name, rocksdb::IOStatus status,
                                            uint64_t durable,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result) {
  if (!status.ok()) return status;
  auto tracked = std::make_shared<TrackedFile>();
  tracked->written = tracked->synced = durable;
  *result = std::make_unique<PowerCutWritableFile>(std::move(*result), tracked, this);
  std::lock_guard<std::mutex> lock(mu_);
  files_[name] = std::move(tracked);
  return status;
}

}  // namespace adanns::testing
