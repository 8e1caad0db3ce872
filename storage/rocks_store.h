// RocksDB-backed source of truth: collection metadata, full float32 vectors, collection settings
// and index blobs, one column family each. Every write is one WriteBatch, WAL-synced before the
// call returns (when sync_writes is on).
//
// Replicated data and derived state are kept in different column families, so that a stream of
// this store's WAL (a follower replica tailing its primary) can keep the first and drop the
// second by column family id: "default" (format version, collection id counter), "collections"
// (metadata), "vectors" and "settings" (what a user set on a collection: its default budget) are
// the data every replica must hold; "index_blobs" holds what each replica derives from that data
// for itself — trained indexes, pending-build records, calibration, the drift reference, the
// int8 residency parameters — and is never replicated.
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
#include "storage/replication_log.h"

namespace rocksdb {
class Cache;
class DB;
class ColumnFamilyHandle;
class Env;
class Statistics;
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
  // Capacity of the one LRU block cache all column families share. It holds the vectors' data
  // blocks that re-ranking reads by point lookup, and also every index and filter block
  // (cache_index_and_filter_blocks), so RocksDB's read-side memory is bounded by this number.
  // Index plus bloom filter cost about 25 bytes per stored vector of 720+ dims (one vector per
  // ~3-4 KiB data block; measured), so 256 MiB keeps the metadata of a few million vectors and
  // still leaves most of the cache for ~70k hot rows of 768 floats; raise it for larger
  // collections or hot sets. It is small next to the full vectors it fronts (1M x 768 float32 =
  // 3 GiB), which is the point of keeping only a prefix resident.
  // Default: 256 MiB.
  size_t block_cache_bytes = size_t{256} << 20;
  // A cache to use instead of a new one of block_cache_bytes: the shards of a data node, each its
  // own store, share one cache (and so one memory bound).
  // Default: null (the store makes its own).
  std::shared_ptr<rocksdb::Cache> block_cache;
  // Read SST files with O_DIRECT, bypassing the OS page cache, so that the block cache is the
  // only cache and a small block_cache_bytes really means disk reads (benchmarks). Writes are
  // unaffected. Open fails when the file system refuses O_DIRECT.
  // Default: false.
  bool use_direct_reads = false;
  // Flushes and compactions write (and compactions read) SST files with O_DIRECT. A buffered
  // write first copies every byte into the page cache, which takes CPU from the WAL's synced
  // writes and fills memory with SST bytes that are seldom read again (the table holds what
  // searches read; the block cache fronts the rest). Measured ingest, median of 3 interleaved:
  // 1M x 768 64k -> 106k vectors/s, 300k x 784 96k -> 104k
  // (bench/results/write-path-ingest-direct-writes.txt). The WAL is unaffected (a buffered write
  // and an fdatasync per commit), and so is durability: a flushed file is synced before the WAL it
  // replaces is dropped, as with buffered writes. Ignored where the file system refuses O_DIRECT
  // (tmpfs): see direct_writes().
  // Default: true.
  bool use_direct_writes = true;
  // WAL files kept after their memtables are flushed, so that a replica that was away can catch
  // up from the log instead of a full copy (RocksDB's WAL_ttl_seconds / WAL_size_limit_MB: a file
  // goes once older than the first or when the archive exceeds the second). 0 and 0: none kept.
  // Default: none (a standalone server); data nodes set --wal_retention_seconds/_mb.
  uint64_t wal_retention_seconds = 0;
  uint64_t wal_retention_mb = 0;
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
  // `origin`: set on a follower applying a replicated write (replication_log.h): the batch then
  // carries the write's identity and records it as the store's applied position, atomically.
  absl::Status PutVectorRows(uint32_t collection_id, uint32_t dim, std::span<const uint64_t> ids,
                             std::span<const float* const> rows,
                             const WritePosition* origin = nullptr);
  // Deletes the ids as one atomic batch (ids that are absent are no-ops; with `origin`, the
  // batch is committed even when `ids` is empty, to record the position).
  absl::Status DeleteVectors(uint32_t collection_id, std::span<const uint64_t> ids,
                             const WritePosition* origin = nullptr);

  // Replication (replication_log.cc). A non-zero epoch tags every vector write from now on as a
  // replicated write of that epoch (this node is the shard's primary); 0 stops tagging.
  void SetReplicationEpoch(uint64_t epoch) { replication_epoch_.store(epoch); }
  uint64_t replication_epoch() const { return replication_epoch_.load(); }
  // The identity of the last replicated write applied here from another node ((0, 0): none).
  absl::StatusOr<WritePosition> AppliedPosition() const;
  // The last sequence number committed.
  uint64_t LatestSequence() const;
  // Whether flushes and compactions write with O_DIRECT (StoreOptions::use_direct_writes, where
  // the file system takes it).
  bool direct_writes() const { return direct_writes_; }
  // WAL records from the one holding `from_seq` on, at most `max_records` of them or about
  // `max_bytes`. FAILED_PRECONDITION when the WAL no longer holds `from_seq` (retention passed).
  absl::StatusOr<std::vector<WalRecord>> ReadWal(uint64_t from_seq, size_t max_records,
                                                 size_t max_bytes) const;
  // Commits a replicated write that changes no vector (the primary, before a checkpoint for a full
  // copy): the copy's position is then a write this WAL holds, even when the shard had none
  // (written before it was replicated) or retention dropped them. FAILED_PRECONDITION when this
  // store is not tagging (no epoch set).
  absl::Status CommitReplicationMarker();
  // The identity of the last replicated write in the WAL (committed here as primary or applied
  // as follower); the applied position when the WAL holds none.
  absl::StatusOr<WritePosition> LastReplicatedPosition() const;
  // Where a replica at `position` resumes: the sequence after the WAL record of that write (1 for
  // (0, 0)). FAILED_PRECONDITION when the WAL does not hold it (retention passed, or the replica
  // holds writes this store never had): the replica needs a full copy.
  absl::StatusOr<uint64_t> ResumeSequenceAfter(const WritePosition& position) const;
  // The first sequence number the kept WAL files hold (latest + 1 when none is kept).
  uint64_t EarliestWalSequence() const;
  // Column family names by id (to decode WAL records elsewhere).
  std::vector<std::string> ColumnFamilyNamesById() const;
  // Point lookups of full vectors (the re-rank stage), as ONE RocksDB MultiGet over the distinct
  // keys, sorted. `ids` may come in any order and repeat. For each i, ids[i]'s `dim` floats are
  // written at out[i * dim, (i + 1) * dim) and found[i] is set to 1; an id that is absent (never
  // written, deleted, or of a dropped collection) gets found[i] = 0 and a zero-filled row.
  // Consistent: every row is read as of one moment. INVALID_ARGUMENT when dim is 0 or `out` /
  // `found` are not ids.size() * dim / ids.size() long; DATA_LOSS when a stored value is not
  // dim * 4 bytes; other RocksDB errors mapped by status code. On error the outputs are undefined.
  absl::Status GetVectors(uint32_t collection_id, uint32_t dim, std::span<const uint64_t> ids,
                          std::span<float> out, std::span<uint8_t> found) const;
  // Rows GetVectors has found since Open, counting every requested position (repeats included).
  uint64_t vectors_fetched() const { return vectors_fetched_.load(std::memory_order_relaxed); }

  // Calls `visit` for every vector of the collection in id order. DATA_LOSS if a stored value is
  // not `dim` floats long. Reads through an iterator, so as of the moment of the call (an implicit
  // snapshot: later writes are not seen) and in bounded memory (one block at a time, plus
  // RocksDB's readahead). The scan does not fill the block cache: a full scan would otherwise
  // evict the hot blocks of the re-rank lookups for rows read once.
  absl::Status ScanVectors(
      uint32_t collection_id, uint32_t dim,
      const std::function<void(uint64_t id, std::span<const float> values)>& visit) const;
  // ScanVectors handing `visit` only the first prefix_dims floats of each vector (index builds of
  // a collection with memory tiers). The stored values are still checked to be `dim` floats.
  // INVALID_ARGUMENT unless 1 <= prefix_dims <= dim.
  absl::Status ScanVectorPrefixes(
      uint32_t collection_id, uint32_t dim, uint32_t prefix_dims,
      const std::function<void(uint64_t id, std::span<const float> prefix)>& visit) const;

  // Index blobs (serialized trained state), one per (collection, index name), synced.
  absl::Status PutIndexBlob(uint32_t collection_id, const std::string& name,
                            std::string_view bytes);
  // nullopt when the collection has no blob of that name.
  absl::StatusOr<std::optional<std::string>> GetIndexBlob(uint32_t collection_id,
                                                          const std::string& name) const;
  absl::Status DeleteIndexBlob(uint32_t collection_id, const std::string& name);
  // Names of the collection's index blobs, in name order.
  absl::StatusOr<std::vector<std::string>> ListIndexBlobs(uint32_t collection_id) const;

  // Collection settings (replicated, unlike index blobs), one per (collection, name), synced.
  absl::Status PutSetting(uint32_t collection_id, const std::string& name, std::string_view bytes);
  // nullopt when the collection has no setting of that name.
  absl::StatusOr<std::optional<std::string>> GetSetting(uint32_t collection_id,
                                                        const std::string& name) const;
  absl::Status DeleteSetting(uint32_t collection_id, const std::string& name);
  // Moves the index blob `name` to a setting of the same name in one batch (stores written before
  // settings had their own column family kept them among the blobs); false when there is none.
  absl::StatusOr<bool> MoveIndexBlobToSetting(uint32_t collection_id, const std::string& name);

  // A consistent copy of the whole store (every column family, as of one moment) in `dir`, which
  // must not exist yet: hard links to the immutable files plus a flushed state. Opening `dir` as
  // a store gives back exactly what was committed before the call.
  absl::Status Checkpoint(const std::string& dir) const;

  // Writes every memtable to SST files and waits: later reads come from the files (through the
  // block cache), as they do for data written long ago. Benchmarks call it after a bulk load.
  absl::Status Flush();

  // The shared block cache. Cheap to read (no property walk): a few atomic loads.
  struct BlockCacheStats {
    uint64_t capacity_bytes = 0;  // StoreOptions::block_cache_bytes
    // Charged to the cache now (data, index and filter blocks), and the part of it pinned (L0
    // index/filter blocks, blocks held by running reads). Usage may exceed capacity while pinned.
    uint64_t usage_bytes = 0;
    uint64_t pinned_bytes = 0;
    // Cumulative since Open, all block kinds (RocksDB tickers BLOCK_CACHE_HIT / _MISS).
    uint64_t hits = 0;
    uint64_t misses = 0;
    // The data blocks alone (BLOCK_CACHE_DATA_HIT / _MISS): the rows themselves, i.e. how often
    // a re-rank lookup was served from memory.
    uint64_t data_hits = 0;
    uint64_t data_misses = 0;
  };
  BlockCacheStats block_cache_stats() const;

  struct Usage {
    uint64_t bytes = 0;                     // SST files plus memtables, all column families
    uint64_t pending_compaction_bytes = 0;  // RocksDB's estimate
    // Memory RocksDB reports holding: memtables, table readers and the block cache (which holds
    // the index and filter blocks too).
    uint64_t memory_bytes = 0;
    BlockCacheStats block_cache;
    uint64_t vectors_fetched = 0;  // vectors_fetched()
  };
  Usage usage() const;

 private:
  RocksStore() = default;
  // Commits one batch (the WAL fsynced first when sync_writes_). After a full disk it resumes the
  // DB first; RESOURCE_EXHAUSTED while the disk stays full.
  absl::Status Commit(rocksdb::WriteBatch& batch, absl::string_view context);
  bool HasRoomToResume() const;
  // Adds the replication tag of a vector write (replication_log.cc): the primary's epoch, or
  // `origin` and the applied-position record on a follower; nothing when neither applies.
  absl::Status TagReplicated(rocksdb::WriteBatch& batch, const WritePosition* origin);
  // One value of column family `cf` keyed by (collection, name); `what` names it in errors.
  absl::Status PutNamed(size_t cf, uint32_t collection_id, const std::string& name,
                        std::string_view bytes, absl::string_view what);
  absl::StatusOr<std::optional<std::string>> GetNamed(size_t cf, uint32_t collection_id,
                                                      const std::string& name,
                                                      absl::string_view what) const;
  absl::Status DeleteNamed(size_t cf, uint32_t collection_id, const std::string& name,
                           absl::string_view what);

  // Declared before db_ so that they outlive it (db_ is destroyed first).
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<uint64_t> replication_epoch_{0};
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned by db_; closed in the destructor
  bool sync_writes_ = true;
  bool direct_writes_ = false;
  std::atomic<bool> resume_before_write_{false};  // a write found the disk full
  mutable std::atomic<uint64_t> vectors_fetched_{0};
  // Serializes CreateCollection/DropCollection: the name check and the write must be atomic.
  std::mutex catalog_mu_;
};

}  // namespace adanns::storage
