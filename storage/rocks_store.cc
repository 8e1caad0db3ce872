// RocksStore: column families, key layout, RocksDB-to-absl status mapping.
// Keys of "vectors" are big-endian so RocksDB's bytewise order is (collection id, vector id) order.
#include "storage/rocks_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "storage/column_family_options.h"
#include "storage/rocks_status.h"
#include "storage/rocks_store_layout.h"

namespace adanns::storage {

using layout::AppendU32BigEndian;
using layout::kCollectionsCf;
using layout::kCollectionsCfName;
using layout::kDefaultCf;
using layout::kIndexBlobsCf;
using layout::kIndexBlobsCfName;
using layout::kSettingsCf;
using layout::kSettingsCfName;
using layout::kVectorKeySize;
using layout::kVectorsCf;
using layout::kVectorsCfName;
using layout::NamedKeyRange;
using layout::VectorIdFromKey;
using layout::VectorKey;

namespace {

// Keys of the default column family.
constexpr char kFormatVersionKey[] = "format_version";
constexpr char kNextCollectionIdKey[] = "next_collection_id";

std::string EncodeU32LittleEndian(uint32_t value) {
  std::string out;
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(value >> shift));
  return out;
}

uint32_t DecodeU32LittleEndian(std::string_view bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= uint32_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  return value;
}

// [begin, end) holds exactly the collection's keys: every key is 12 bytes, so the largest one
// followed by a zero byte sorts after all of them, even for collection id UINT32_MAX.
std::pair<std::string, std::string> VectorKeyRange(uint32_t collection_id) {
  std::string begin;
  AppendU32BigEndian(collection_id, &begin);
  std::string end = VectorKey(collection_id, UINT64_MAX);
  end.push_back('\0');
  return {std::move(begin), std::move(end)};
}

// Reads a 4-byte little-endian counter of the default column family; nullopt when absent.
absl::StatusOr<std::optional<uint32_t>> GetU32(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                               const char* key) {
  std::string value;
  const rocksdb::Status status = db.Get(rocksdb::ReadOptions(), cf, key, &value);
  if (status.IsNotFound()) return std::optional<uint32_t>();
  RETURN_IF_ERROR(FromRocks(status, absl::StrCat("reading ", key)));
  if (value.size() != 4) {
    return absl::DataLossError(
        absl::StrCat("store key '", key, "' holds ", value.size(), " bytes, expected 4"));
  }
  return std::optional<uint32_t>(DecodeU32LittleEndian(value));
}

// RocksDB's own recovery from a full disk polls free space every few seconds in a background
// thread and answers our Resume() with Busy meanwhile; a write would wait for that poll. We
// resume on the next write instead (RocksStore::Commit), so switch the automatic one off.
class ResumeOnNextWrite : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.IsNoSpace()) *auto_recovery = false;
  }
};

// Checks a stored row's length and copies its first `floats` floats to `out` (RocksDB values carry
// no alignment guarantee, hence the copy).
absl::Status CopyRow(uint32_t collection_id, uint64_t id, uint32_t dim, const rocksdb::Slice& value,
                     size_t floats, float* out) {
  const size_t row_bytes = size_t{dim} * sizeof(float);
  if (value.size() != row_bytes) {
    return absl::DataLossError(absl::StrCat("vector ", id, " of collection ", collection_id,
                                            " holds ", value.size(), " bytes, expected ", row_bytes,
                                            " (dim ", dim, ")"));
  }
  if (floats != 0) std::memcpy(out, value.data(), floats * sizeof(float));
  return absl::OkStatus();
}

// Whether the file system under `dir` takes O_DIRECT writes (tmpfs, among others, refuses them
// at open). `dir` is created if missing when `create` (as the store's Open then does).
bool TakesDirectWrites(rocksdb::FileSystem& fs, const std::string& dir, bool create) {
  const bool ready =
      create ? fs.CreateDirIfMissing(dir, {}, nullptr).ok() : fs.FileExists(dir, {}, nullptr).ok();
  if (!ready) return false;  // the store's Open reports it
  const std::string probe = dir + "/DIRECT_WRITE_PROBE";
  rocksdb::FileOptions file_options;
  file_options.use_direct_writes = true;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  const bool taken = fs.NewWritableFile(probe, file_options, &file, nullptr).ok();
  file.reset();
  fs.DeleteFile(probe, {}, nullptr).PermitUncheckedError();
  return taken;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksStore>> RocksStore::Open(const std::string& path,
                                                             const StoreOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.listeners.push_back(std::make_shared<ResumeOnNextWrite>());

  // Background flushes and compactions that write through the page cache (no direct writes, below)
  // sync their files every MiB as they write them, instead of leaving the OS a large dirty backlog
  // that a WAL fsync (every acknowledged write) then waits behind. Only background files: the
  // WAL's own sync per write is unchanged.
  db_options.bytes_per_sync = 1 << 20;
  db_options.use_direct_reads = options.use_direct_reads;
  const bool direct_writes =
      options.use_direct_writes &&
      TakesDirectWrites(*db_options.env->GetFileSystem(), path, options.create_if_missing);
  db_options.use_direct_io_for_flush_and_compaction = direct_writes;
  // Compaction inputs are then read with O_DIRECT too: read them 2 MiB at a time (RocksDB's own
  // advice for direct I/O), not block by block.
  if (direct_writes) db_options.compaction_readahead_size = size_t{2} << 20;
  db_options.WAL_ttl_seconds = options.wal_retention_seconds;
  db_options.WAL_size_limit_MB = options.wal_retention_mb;

  auto store = std::unique_ptr<RocksStore>(new RocksStore());
  // Block cache hit/miss counts come from RocksDB's statistics: the LRU cache of this version
  // keeps no counters of its own, and PerfContext counts per thread only. Tickers alone
  // (kExceptHistogramOrTimers) cost a relaxed per-core add each, no clock reads, no histograms.
  store->statistics_ = rocksdb::CreateDBStatistics();
  store->statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  db_options.statistics = store->statistics_;
  store->block_cache_ = options.block_cache != nullptr
                            ? options.block_cache
                            : rocksdb::NewLRUCache(options.block_cache_bytes);

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, SmallColumnFamilyOptions(store->block_cache_)},
      {kCollectionsCfName, SmallColumnFamilyOptions(store->block_cache_)},
      {kVectorsCfName, VectorsColumnFamilyOptions(store->block_cache_)},
      {kIndexBlobsCfName, SmallColumnFamilyOptions(store->block_cache_)},
      {kSettingsCfName, SmallColumnFamilyOptions(store->block_cache_)}};
  // RocksDB refuses to open a store without naming all its column families; open any a newer
  // build added too, so that such a store reaches the format check below.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok()) {
    for (const std::string& name : existing) {
      if (name != rocksdb::kDefaultColumnFamilyName && name != kCollectionsCfName &&
          name != kVectorsCfName && name != kIndexBlobsCfName && name != kSettingsCfName) {
        descriptors.emplace_back(name, SmallColumnFamilyOptions(store->block_cache_));
      }
    }
  }

  store->sync_writes_ = options.sync_writes;
  store->direct_writes_ = direct_writes;
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, path, descriptors, &store->handles_, &db),
                            absl::StrCat("opening ", path)));
  store->db_.reset(db);

  rocksdb::ColumnFamilyHandle* default_cf = store->handles_[kDefaultCf];
  ASSIGN_OR_RETURN(std::optional<uint32_t> version,
                   GetU32(*store->db_, default_cf, kFormatVersionKey));
  if (!version) {
    rocksdb::WriteBatch batch;
    RETURN_IF_ERROR(
        FromRocks(batch.Put(default_cf, kFormatVersionKey, EncodeU32LittleEndian(kFormatVersion)),
                  "writing format_version"));
    RETURN_IF_ERROR(store->Commit(batch, "writing format_version"));
  } else if (*version > kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store at ", path, " was written by a newer adanns (format ", *version,
                     "); this build reads up to format ", kFormatVersion));
  } else if (*version == 0) {
    return absl::DataLossError(absl::StrCat("store at ", path, " has invalid format version 0"));
  }
  return store;
}

RocksStore::~RocksStore() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  handles_.clear();
  // A destructor cannot report; WAL-synced writes are durable whether or not Close succeeds.
  db_->Close().PermitUncheckedError();
}

absl::StatusOr<CollectionMeta> RocksStore::CreateCollection(CollectionMeta meta) {
  if (meta.name.empty()) return absl::InvalidArgumentError("collection name is empty");
  if (meta.dim == 0) return absl::InvalidArgumentError("collection dim must be positive");
  if (meta.resident_dims > meta.dim) {
    return absl::InvalidArgumentError(absl::StrCat("resident_dims ", meta.resident_dims,
                                                   " exceeds the collection dim ", meta.dim));
  }
  if (!ResidentPrecisionFromCode(static_cast<uint8_t>(meta.resident_precision))) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid resident precision ", static_cast<int>(meta.resident_precision)));
  }

  std::lock_guard<std::mutex> lock(catalog_mu_);
  std::string existing;
  const rocksdb::Status get =
      db_->Get(rocksdb::ReadOptions(), handles_[kCollectionsCf], meta.name, &existing);
  if (get.ok()) {
    return absl::AlreadyExistsError(absl::StrCat("collection '", meta.name, "' already exists"));
  }
  if (!get.IsNotFound()) return FromRocks(get, "reading collection metadata");

  ASSIGN_OR_RETURN(std::optional<uint32_t> next,
                   GetU32(*db_, handles_[kDefaultCf], kNextCollectionIdKey));
  meta.id = next.value_or(1);
  if (meta.id == UINT32_MAX) {
    return absl::ResourceExhaustedError("all collection ids have been used");
  }

  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(
      FromRocks(batch.Put(handles_[kCollectionsCf], meta.name, EncodeCollectionMeta(meta)),
                "batching collection metadata"));
  RETURN_IF_ERROR(FromRocks(
      batch.Put(handles_[kDefaultCf], kNextCollectionIdKey, EncodeU32LittleEndian(meta.id + 1)),
      "batching next_collection_id"));
  RETURN_IF_ERROR(Commit(batch, "creating collection"));
  return meta;
}

absl::Status RocksStore::DropCollection(const std::string& name) {
  std::lock_guard<std::mutex> lock(catalog_mu_);
  std::string bytes;
  const rocksdb::Status get =
      db_->Get(rocksdb::ReadOptions(), handles_[kCollectionsCf], name, &bytes);
  if (get.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("collection '", name, "' does not exist"));
  }
  RETURN_IF_ERROR(FromRocks(get, "reading collection metadata"));
  ASSIGN_OR_RETURN(CollectionMeta meta, DecodeCollectionMeta(bytes));

  const auto [begin, end] = VectorKeyRange(meta.id);
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(
      FromRocks(batch.Delete(handles_[kCollectionsCf], name), "batching collection delete"));
  RETURN_IF_ERROR(FromRocks(batch.DeleteRange(handles_[kVectorsCf], begin, end),
                            "batching vector range delete"));
  const auto [blobs_begin, blobs_end] = NamedKeyRange(meta.id);
  RETURN_IF_ERROR(FromRocks(batch.DeleteRange(handles_[kIndexBlobsCf], blobs_begin, blobs_end),
                            "batching index blob delete"));
  RETURN_IF_ERROR(FromRocks(batch.DeleteRange(handles_[kSettingsCf], blobs_begin, blobs_end),
                            "batching settings delete"));
  RETURN_IF_ERROR(Commit(batch, "dropping collection"));

  // The drop is committed; compaction only reclaims the disk space now rather than eventually.
  // kForceOptimized rewrites bottommost files too, which is where the dropped vectors usually are.
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  const rocksdb::Slice begin_slice(begin);
  const rocksdb::Slice end_slice(end);
  // A failed compaction loses nothing: RocksDB drops the range tombstone's keys later anyway.
  db_->CompactRange(compact_options, handles_[kVectorsCf], &begin_slice, &end_slice)
      .PermitUncheckedError();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CollectionMeta>> RocksStore::ListCollections() const {
  std::vector<CollectionMeta> collections;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kCollectionsCf]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ASSIGN_OR_RETURN(CollectionMeta meta, DecodeCollectionMeta(it->value().ToStringView()));
    if (meta.name != it->key().ToStringView()) {
      return absl::DataLossError(absl::StrCat(
          "collection metadata under key '", it->key().ToString(), "' is named '", meta.name, "'"));
    }
    collections.push_back(std::move(meta));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing collections"));
  return collections;
}

absl::Status RocksStore::PutVectors(uint32_t collection_id, uint32_t dim,
                                    std::span<const uint64_t> ids, std::span<const float> values) {
  if (dim == 0) return absl::InvalidArgumentError("dim must be positive");
  if (values.size() != ids.size() * dim) {
    return absl::InvalidArgumentError(absl::StrCat("got ", values.size(), " floats for ",
                                                   ids.size(), " vectors of dim ", dim,
                                                   "; expected ", ids.size() * dim));
  }
  std::vector<const float*> rows(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) rows[i] = values.data() + i * dim;
  return PutVectorRows(collection_id, dim, ids, rows);
}

absl::Status RocksStore::PutVectorRows(uint32_t collection_id, uint32_t dim,
                                       std::span<const uint64_t> ids,
                                       std::span<const float* const> rows,
                                       const WritePosition* origin) {
  if (dim == 0) return absl::InvalidArgumentError("dim must be positive");
  if (rows.size() != ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", rows.size(), " rows for ", ids.size(), " ids"));
  }
  if (ids.empty() && origin == nullptr) return absl::OkStatus();
  const size_t row_bytes = size_t{dim} * sizeof(float);
  // Reserved up front: a 4 MB message would otherwise regrow (and copy) the batch a dozen times.
  constexpr size_t kRecordOverheadBytes = 32;  // tag, column family, varint lengths, key
  rocksdb::WriteBatch batch(ids.size() * (row_bytes + kRecordOverheadBytes));
  for (size_t i = 0; i < ids.size(); ++i) {
    const rocksdb::Slice value(reinterpret_cast<const char*>(rows[i]), row_bytes);
    RETURN_IF_ERROR(
        FromRocks(batch.Put(handles_[kVectorsCf], VectorKey(collection_id, ids[i]), value),
                  "batching vector put"));
  }
  RETURN_IF_ERROR(TagReplicated(batch, origin));
  return Commit(batch, "writing vectors");
}

absl::Status RocksStore::DeleteVectors(uint32_t collection_id, std::span<const uint64_t> ids,
                                       const WritePosition* origin) {
  if (ids.empty() && origin == nullptr) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  for (uint64_t id : ids) {
    RETURN_IF_ERROR(FromRocks(batch.Delete(handles_[kVectorsCf], VectorKey(collection_id, id)),
                              "batching vector delete"));
  }
  RETURN_IF_ERROR(TagReplicated(batch, origin));
  return Commit(batch, "deleting vectors");
}

absl::Status RocksStore::GetVectors(uint32_t collection_id, uint32_t dim,
                                    std::span<const uint64_t> ids, std::span<float> out,
                                    std::span<uint8_t> found) const {
  if (dim == 0) return absl::InvalidArgumentError("dim must be positive");
  if (out.size() != ids.size() * dim || found.size() != ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("GetVectors of ", ids.size(), " ids of dim ",
                                                   dim, " got room for ", out.size(),
                                                   " floats and ", found.size(), " found flags"));
  }
  if (ids.empty()) return absl::OkStatus();

  // The distinct ids in key order (big-endian keys sort like the ids), so that MultiGet reads each
  // row once and can skip its own sort (sorted_input). slot[i] is ids[i]'s position among them.
  std::vector<uint32_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return ids[a] < ids[b]; });
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  std::vector<uint32_t> slot(ids.size());
  for (size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || ids[order[k]] != ids[order[k - 1]]) {
      keys.push_back(VectorKey(collection_id, ids[order[k]]));
    }
    slot[order[k]] = static_cast<uint32_t>(keys.size() - 1);
  }
  std::vector<rocksdb::Slice> key_slices(keys.begin(), keys.end());
  // Pinnable slices: a value found in a cached block is read in place, not copied into a string.
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), handles_[kVectorsCf], keys.size(), key_slices.data(),
                values.data(), statuses.data(), /*sorted_input=*/true);

  uint64_t fetched = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const size_t k = slot[i];
    float* row = out.data() + i * dim;
    if (statuses[k].IsNotFound()) {
      found[i] = 0;
      std::fill(row, row + dim, 0.0f);
      continue;
    }
    RETURN_IF_ERROR(FromRocks(statuses[k], absl::StrCat("reading vector ", ids[i])));
    RETURN_IF_ERROR(CopyRow(collection_id, ids[i], dim, values[k], dim, row));
    found[i] = 1;
    ++fetched;
  }
  vectors_fetched_.fetch_add(fetched, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status RocksStore::ScanVectors(
    uint32_t collection_id, uint32_t dim,
    const std::function<void(uint64_t id, std::span<const float> values)>& visit) const {
  return ScanVectorPrefixes(collection_id, dim, dim, visit);
}

absl::Status RocksStore::ScanVectorPrefixes(
    uint32_t collection_id, uint32_t dim, uint32_t prefix_dims,
    const std::function<void(uint64_t id, std::span<const float> prefix)>& visit) const {
  if (prefix_dims == 0 || prefix_dims > dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefix of ", prefix_dims, " dims of vectors of dim ", dim));
  }
  const auto [begin, end] = VectorKeyRange(collection_id);
  const rocksdb::Slice upper_bound(end);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  // Every block of the collection is read once: caching them would only evict the hot blocks of
  // the re-rank lookups (and the index and filter blocks) for rows the scan never reads again.
  read_options.fill_cache = false;
  // No explicit snapshot: an iterator reads as of its creation (an implicit snapshot) already.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, handles_[kVectorsCf]));

  // RocksDB values carry no alignment guarantee, so prefixes are copied into a float buffer.
  std::vector<float> row(prefix_dims);
  for (it->Seek(begin); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != kVectorKeySize || key.substr(0, 4) != begin) {
      return absl::DataLossError(absl::StrCat("malformed vector key of ", key.size(),
                                              " bytes in collection ", collection_id));
    }
    const uint64_t id = VectorIdFromKey(key);
    RETURN_IF_ERROR(CopyRow(collection_id, id, dim, it->value(), prefix_dims, row.data()));
    visit(id, std::span<const float>(row));
  }
  return FromRocks(it->status(), "scanning vectors");
}

absl::Status RocksStore::Checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(dir), absl::StrCat("checkpoint into ", dir));
}

absl::Status RocksStore::Flush() {
  rocksdb::FlushOptions options;
  options.wait = true;
  return FromRocks(db_->Flush(options, handles_), "flush");
}

RocksStore::Usage RocksStore::usage() const {
  Usage usage;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handle, "rocksdb.total-sst-files-size", &value)) usage.bytes += value;
    if (db_->GetIntProperty(handle, "rocksdb.cur-size-all-mem-tables", &value)) {
      usage.bytes += value;
    }
    if (db_->GetIntProperty(handle, "rocksdb.estimate-pending-compaction-bytes", &value)) {
      usage.pending_compaction_bytes += value;
    }
    if (db_->GetIntProperty(handle, "rocksdb.size-all-mem-tables", &value)) {
      usage.memory_bytes += value;  // active, immutable and pinned memtables
    }
    if (db_->GetIntProperty(handle, "rocksdb.estimate-table-readers-mem", &value)) {
      usage.memory_bytes += value;
    }
  }
  usage.block_cache = block_cache_stats();
  usage.memory_bytes += usage.block_cache.usage_bytes;  // one cache, shared by the column families
  usage.vectors_fetched = vectors_fetched();
  return usage;
}

RocksStore::BlockCacheStats RocksStore::block_cache_stats() const {
  BlockCacheStats stats;
  stats.capacity_bytes = block_cache_->GetCapacity();
  stats.usage_bytes = block_cache_->GetUsage();
  stats.pinned_bytes = block_cache_->GetPinnedUsage();
  stats.hits = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
  stats.misses = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  stats.data_hits = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_DATA_HIT);
  stats.data_misses = statistics_->getTickerCount(rocksdb::BLOCK_CACHE_DATA_MISS);
  return stats;
}

absl::Status RocksStore::Commit(rocksdb::WriteBatch& batch, absl::string_view context) {
  // A write that found the disk full leaves RocksDB refusing writes (a background error) until it
  // is resumed: try that first, so writes go on by themselves once space is back. Resume flushes
  // the memtables; if that flush meets a full disk the error turns fatal (writes stop until a
  // reopen), so resume only once the disk has room for that flush again.
  if (resume_before_write_.load()) {
    if (!HasRoomToResume()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("rocksdb ", context, ": the disk is full: free space, then retry"));
    }
    if (const rocksdb::Status resumed = db_->Resume(); !resumed.ok()) {
      if (resumed.severity() >= rocksdb::Status::Severity::kFatalError) {
        return absl::UnavailableError(absl::StrCat("rocksdb ", context,
                                                   ": the store stopped writing after a failed "
                                                   "recovery from a full disk (",
                                                   resumed.ToString(),
                                                   "); restart the server once space is free"));
      }
      return absl::ResourceExhaustedError(
          absl::StrCat("rocksdb ", context, " (resuming after a full disk): ", resumed.ToString(),
                       "; the disk is still full: free space, then retry"));
    }
    resume_before_write_ = false;
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_writes_;
  const rocksdb::Status written = db_->Write(write_options, &batch);
  if (written.IsNoSpace()) resume_before_write_ = true;
  return FromRocks(written, context);
}

bool RocksStore::HasRoomToResume() const {
  // Room for every memtable's flush plus a margin for the new WAL and MANIFEST records.
  constexpr uint64_t kMarginBytes = uint64_t{64} << 20;
  uint64_t free_bytes = 0;
  if (!db_->GetEnv()->GetFreeSpace(db_->GetName(), &free_bytes).ok()) return true;  // unknown: try
  uint64_t memtable_bytes = 0;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handle, "rocksdb.cur-size-all-mem-tables", &value)) {
      memtable_bytes += value;
    }
  }
  return free_bytes >= memtable_bytes + kMarginBytes;
}

}  // namespace adanns::storage
