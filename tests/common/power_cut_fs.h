// A RocksDB file system double for power-cut tests: it keeps only the bytes a completed
// Sync/Fsync made durable, and fails every operation once the power is cut.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/file_system.h"

namespace adanns::testing {

// The double's model of a power cut:
// - File contents: only bytes covered by a completed Sync/Fsync survive. Flush and Close merely
//   hand bytes to the OS page cache, and RangeSync (sync_file_range) flushes neither the disk
//   cache nor metadata, so none of them make data durable.
// - Directory entries (create, rename, delete) are taken as durable at once, so a file that was
//   never synced survives empty rather than vanishing. RocksDB fsyncs its directory after those
//   operations itself, and RocksStore never touches files directly, so what tests must tell
//   apart is a store that syncs its WAL from one that does not: file contents are what differ.
// The cut happens while the DB is still open: from then on every write, sync or file operation
// fails, so the DB's own shutdown cannot persist anything. Truncation waits until the DB has
// closed its files, since closing a POSIX file may trim it to the length the writer last knew.
class PowerCutFileSystem : public rocksdb::FileSystemWrapper {
 public:
  struct TrackedFile;  // bytes written to, and synced in, one file

  explicit PowerCutFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
      : FileSystemWrapper(base) {}
  const char* Name() const override { return "PowerCutFileSystem"; }

  // Power goes off now: nothing written, synced, renamed or deleted from here on takes effect.
  void CutPower() { power_off_ = true; }
  // Power goes off at the `n`-th Sync/Fsync from now, counting every file: that sync fails, so
  // the bytes it was to make durable are lost (a cut between a write and its sync).
  void CutPowerAtSync(uint64_t n) { syncs_until_cut_ = n; }
  bool power_off() const { return power_off_; }
  // Counts a sync about to run; false (and the power off) when it is the one that must fail.
  bool SyncSurvives();

  // Call after the DB is closed. Truncates every file to what was synced; returns bytes lost.
  uint64_t DiscardUnsyncedData();

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

 private:
  rocksdb::IOStatus Track(const std::string& name, rocksdb::IOStatus status, uint64_t durable,
                          std::unique_ptr<rocksdb::FSWritableFile>* result);

  std::atomic<bool> power_off_{false};
  std::atomic<uint64_t> syncs_until_cut_{0};  // 0 = no cut planned
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<TrackedFile>> files_;
};

}  // namespace adanns::testing
