// RocksDB-backed source of truth: collection metadata, full float32 vectors and index blobs, one
// column family each. Every write is one WriteBatch, WAL-synced before the call returns (when
// sync_writes is on).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/collection_meta.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace adanns::storage {

// On-disk format written by this build. A store written by a newer format is refused.
inline constexpr uint32_t kFormatVersion = 1;

struct StoreOptions {
  // Sync the WAL before acknowledging every write (durability across power loss).
  // Default: true.
  bool sync_writes = true;
  // Environment RocksDB runs on; tests inject a fault-injecting file system here.
  // Default: nullptr (rocksdb::Env::Default()).
  rocksdb::Env* env = nullptr;
  // Create the data directory when it does not exist.
  // Default: true.
  bool create_if_missing = true;
};

class RocksStore {
 public:
  // Opens (or creates) the store at `path`. FAILED_PRECONDITION for a store of a newer format.
  static absl::StatusOr<std::unique_ptr<RocksStore>> Open(const std::string& path,
                                                          const StoreOptions& options = {});
  ~RocksStore();
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  // Persists a new collection; assigns `meta.id`. ALREADY_EXISTS if the name is taken.
  absl::StatusOr<CollectionMeta> CreateCollection(CollectionMeta meta);
  // Deletes the collection's metadata and vectors, then compacts its key range.
  // NOT_FOUND if it does not exist.
  absl::Status DropCollection(const std::string& name);
  // Every persisted collection, ordered by name.
  absl::StatusOr<std::vector<CollectionMeta>> ListCollections() const;

  // Writes ids.size() vectors of `dim` floats (row-major in `values`) as one atomic batch.
  absl::Status PutVectors(uint32_t collection_id, uint32_t dim, std::span<const uint64_t> ids,
                          std::span<const float> values);
  // The same with ids[i]'s dim floats at rows[i] (the rows of a parsed message, not copied first).
  absl::Status PutVectorRows(uint32_t collection_id, uint32_t dim, std::span<const uint64_t> ids,
                             std::span<const float* const> rows);
  // Deletes the ids as one atomic batch (ids that are absent are no-ops).
  absl::Status DeleteVectors(uint32_t collection_id, std::span<const uint64_t> ids);
  // Calls `visit` for every vector of the collection in id order. DATA_LOSS if a stored value is
  // not `dim` floats long.
  absl::Status ScanVectors(
      uint32_t collection_id, uint32_t dim,
      const std::function<void(uint64_t id, std::span<const float> values)>& visit) const;

  // Index blobs (serialized trained state), one per (collection, index name), synced.
  absl::Status PutIndexBlob(uint32_t collection_id, const std::string& name,
                            std::string_view bytes);
  // nullopt when the collection has no blob of that name.
  absl::StatusOr<std::optional<std::string>> GetIndexBlob(uint32_t collection_id,
                                                          const std::string& name) const;
  absl::Status DeleteIndexBlob(uint32_t collection_id, const std::string& name);
  // Names of the collection's index blobs, in name order.
  absl::StatusOr<std::vector<std::string>> ListIndexBlobs(uint32_t collection_id) const;

  // A consistent copy of the whole store (every column family, as of one moment) in `dir`, which
  // must not exist yet: hard links to the immutable files plus a flushed state. Opening `dir` as
  // a store gives back exactly what was committed before the call.
  absl::Status Checkpoint(const std::string& dir) const;

  struct Usage {
    uint64_t bytes = 0;                     // SST files plus memtables, all column families
    uint64_t pending_compaction_bytes = 0;  // RocksDB's estimate
    // Memory RocksDB reports holding: memtables, table readers (index and filter blocks) and the
    // block cache.
    uint64_t memory_bytes = 0;
  };
  Usage usage() const;

 private:
  RocksStore() = default;
  // Commits one batch (the WAL fsynced first when sync_writes_). After a full disk it resumes the
  // DB first; RESOURCE_EXHAUSTED while the disk stays full.
  absl::Status Commit(rocksdb::WriteBatch& batch, absl::string_view context);
  bool HasRoomToResume() const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned by db_; closed in the destructor
  bool sync_writes_ = true;
  std::atomic<bool> resume_before_write_{false};  // a write found the disk full
  // Serializes CreateCollection/DropCollection: the name check and the write must be atomic.
  std::mutex catalog_mu_;
};

}  // namespace adanns::storage
