// The store's read path for memory tiers against a real RocksDB: GetVectors' exact rows in request
// order, argument checks, the block cache's hit and miss counters, direct reads, prefix scans
// that leave the cache alone, flushes with O_DIRECT (and without, where refused), and tiered
// collection metadata.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "tests/storage/rocks_store_fixture.h"

namespace adanns::storage {
namespace {

using ::testing::HasSubstr;

// Row `id` of dim floats, distinct per id and per position: pseudo-random bit patterns (every one
// a finite float) so that a row handed to the wrong position or truncated cannot match.
std::vector<float> RowOf(uint64_t id, uint32_t dim) {
  std::vector<float> row(dim);
  uint64_t state = id * 0x9E3779B97F4A7C15ull + 1;
  for (float& value : row) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t bits = static_cast<uint32_t>(state >> 32) & 0xBF7FFFFFu;  // exponent < 255
    std::memcpy(&value, &bits, sizeof(value));
  }
  return row;
}

// Writes RowOf(id, dim) for every id, in batches.
void PutRows(RocksStore& store, uint32_t collection_id, uint32_t dim,
             const std::vector<uint64_t>& ids) {
  constexpr size_t kBatch = 500;
  for (size_t start = 0; start < ids.size(); start += kBatch) {
    const size_t n = std::min(kBatch, ids.size() - start);
    std::vector<float> values;
    for (size_t i = start; i < start + n; ++i) {
      const std::vector<float> row = RowOf(ids[i], dim);
      values.insert(values.end(), row.begin(), row.end());
    }
    ASSERT_TRUE(store.PutVectors(collection_id, dim, {ids.data() + start, n}, values).ok());
  }
}

struct Fetched {
  absl::Status status;
  std::vector<float> out;
  std::vector<uint8_t> found;
};

Fetched Fetch(const RocksStore& store, uint32_t collection_id, uint32_t dim,
              const std::vector<uint64_t>& ids) {
  Fetched fetched;
  fetched.out.assign(ids.size() * dim, -7.0f);  // anything GetVectors leaves alone shows
  fetched.found.assign(ids.size(), 2);
  fetched.status = store.GetVectors(collection_id, dim, ids, fetched.out, fetched.found);
  return fetched;
}

// Checks every position of a GetVectors answer against RowOf, or a zero row where absent.
void ExpectRows(const Fetched& fetched, uint32_t dim, const std::vector<uint64_t>& ids,
                const std::vector<bool>& present) {
  ASSERT_TRUE(fetched.status.ok()) << fetched.status;
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "position " << i << ", id " << ids[i]);
    EXPECT_EQ(fetched.found[i], present[i] ? 1 : 0);
    const std::span<const float> row(fetched.out.data() + i * dim, dim);
    if (present[i]) {
      EXPECT_EQ(Bytes(row), Bytes(RowOf(ids[i], dim)));
    } else {
      EXPECT_EQ(Bytes(row), Bytes(std::vector<float>(dim, 0.0f)));
    }
  }
}

TEST_F(RocksStoreTest, GetVectorsReturnsExactRowsInRequestOrder) {
  constexpr uint32_t kDim = 5;
  const std::vector<uint64_t> stored = {5, 1, uint64_t{1} << 40, 9, UINT64_MAX, 0};
  // Unsorted, with repeats, an id never written (77), one deleted (9), one only in collection 8.
  const std::vector<uint64_t> request = {uint64_t{1} << 40, 5, 77, 5, 9, 1, UINT64_MAX, 5, 0, 123};
  const std::vector<bool> present = {true, true, false, true, false, true, true, true, true, false};
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    PutRows(*store, 7, kDim, stored);
    PutRows(*store, 8, kDim, {123, 77});
    ASSERT_TRUE(store->DeleteVectors(7, std::vector<uint64_t>{9}).ok());
    EXPECT_EQ(store->vectors_fetched(), 0u);
    ExpectRows(Fetch(*store, 7, kDim, request), kDim, request, present);  // from the memtable
    EXPECT_EQ(store->vectors_fetched(), 7u) << "every found position counts, repeats included";
    EXPECT_EQ(store->usage().vectors_fetched, 7u);
  }
  // Reopening flushes the WAL into an SST file: the same answers through the table readers.
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ExpectRows(Fetch(*store, 7, kDim, request), kDim, request, present);
  EXPECT_EQ(store->vectors_fetched(), 7u) << "the counter starts at zero with each Open";

  const std::vector<uint64_t> one = {5};
  ExpectRows(Fetch(*store, 7, kDim, one), kDim, one, {true});
  EXPECT_EQ(store->vectors_fetched(), 8u);
  const Fetched none = Fetch(*store, 7, kDim, {});
  EXPECT_TRUE(none.status.ok()) << none.status;
}

TEST_F(RocksStoreTest, GetVectorsRejectsBadArgumentsAndRowsOfAnotherDim) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  PutRows(*store, 1, 4, {3});
  const std::vector<uint64_t> ids = {3, 4};
  std::vector<float> out(8);
  std::vector<uint8_t> found(2);
  EXPECT_EQ(store->GetVectors(1, 4, ids, std::span(out).subspan(1), found).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetVectors(1, 4, ids, out, std::span(found).subspan(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetVectors(1, 0, ids, {}, found).code(), absl::StatusCode::kInvalidArgument);
  const absl::Status wrong_dim = store->GetVectors(1, 2, ids, std::span(out).subspan(0, 4), found);
  EXPECT_EQ(wrong_dim.code(), absl::StatusCode::kDataLoss) << wrong_dim;
  EXPECT_THAT(wrong_dim.message(), HasSubstr("vector 3"));
  EXPECT_TRUE(store->GetVectors(1, 4, ids, out, found).ok());
}

// 768 floats: 3 KiB rows, one per 4 KiB data block, as in the tiers this store serves.
constexpr uint32_t kWideDim = 768;

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> ids(n);
  for (uint64_t i = 0; i < n; ++i) ids[i] = i;
  return ids;
}

TEST_F(RocksStoreTest, BlockCacheCountsMissesThenHits) {
  StoreOptions options;
  options.block_cache_bytes = 8 << 20;
  const std::vector<uint64_t> ids = Iota(400);
  {
    std::unique_ptr<RocksStore> store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    PutRows(*store, 1, kWideDim, ids);
  }
  std::unique_ptr<RocksStore> store = OpenStore(options);  // the rows are in an SST file now
  ASSERT_NE(store, nullptr);
  const RocksStore::BlockCacheStats start = store->block_cache_stats();
  EXPECT_EQ(start.capacity_bytes, size_t{8} << 20);

  const std::vector<uint64_t> request = {17, 3, 250, 399, 42, 17};
  ExpectRows(Fetch(*store, 1, kWideDim, request), kWideDim, request, std::vector<bool>(6, true));
  const RocksStore::BlockCacheStats cold = store->block_cache_stats();
  // Five distinct rows, one 3 KiB row per data block: five blocks read (a repeat is read once).
  EXPECT_EQ(cold.data_misses - start.data_misses, 5u);
  EXPECT_EQ(cold.data_hits, start.data_hits);
  EXPECT_GE(cold.misses - start.misses, cold.data_misses - start.data_misses);
  EXPECT_GE(cold.usage_bytes, 5 * kWideDim * sizeof(float)) << "the rows' blocks were cached";

  ExpectRows(Fetch(*store, 1, kWideDim, request), kWideDim, request, std::vector<bool>(6, true));
  const RocksStore::BlockCacheStats warm = store->block_cache_stats();
  EXPECT_EQ(warm.data_misses, cold.data_misses) << "the second read is served from the cache";
  EXPECT_EQ(warm.data_hits - cold.data_hits, 5u);
  EXPECT_GE(warm.hits - cold.hits, warm.data_hits - cold.data_hits);

  const RocksStore::Usage usage = store->usage();
  EXPECT_EQ(usage.block_cache.capacity_bytes, size_t{8} << 20);
  EXPECT_GE(usage.block_cache.data_hits, warm.data_hits);
  EXPECT_GE(usage.memory_bytes, usage.block_cache.usage_bytes);
}

TEST_F(RocksStoreTest, ReopensWithAnotherBlockCacheSize) {
  const std::vector<uint64_t> ids = Iota(300);  // ~1 MB of rows
  for (size_t cache_bytes : {size_t{64} << 20, size_t{64} << 10, size_t{1} << 20}) {
    SCOPED_TRACE(cache_bytes);
    StoreOptions options;
    options.block_cache_bytes = cache_bytes;
    std::unique_ptr<RocksStore> store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    if (cache_bytes == (size_t{64} << 20)) PutRows(*store, 1, kWideDim, ids);
    EXPECT_EQ(store->block_cache_stats().capacity_bytes, cache_bytes);
    // A cache far smaller than the data only means more misses, never a wrong row.
    ExpectRows(Fetch(*store, 1, kWideDim, ids), kWideDim, ids, std::vector<bool>(ids.size(), true));
    EXPECT_EQ(ScanAll(*store, 1, kWideDim).size(), ids.size());
  }
}

TEST_F(RocksStoreTest, DirectReadsOpenAndRead) {
  const std::vector<uint64_t> ids = Iota(50);
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    PutRows(*store, 1, kWideDim, ids);
  }
  StoreOptions options;
  options.use_direct_reads = true;
  options.block_cache_bytes = 64 << 10;
  // The WAL replay writes an SST file, and the table readers then open it with O_DIRECT.
  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir_.path(), options);
  if (!store.ok() && absl::StrContains(store.status().message(), "Invalid argument")) {
    GTEST_SKIP() << "the file system of " << dir_.path() << " refuses O_DIRECT: " << store.status();
  }
  ASSERT_TRUE(store.ok()) << store.status();
  const Fetched fetched = Fetch(**store, 1, kWideDim, ids);
  if (!fetched.status.ok() && absl::StrContains(fetched.status.message(), "Invalid argument")) {
    GTEST_SKIP() << "the file system of " << dir_.path()
                 << " refuses O_DIRECT reads: " << fetched.status;
  }
  ExpectRows(fetched, kWideDim, ids, std::vector<bool>(ids.size(), true));
  // One miss per row (one row per block), plus Open's own reads of the default column family.
  EXPECT_GE((*store)->block_cache_stats().data_misses, ids.size());
  EXPECT_EQ(ScanAll(**store, 1, kWideDim).size(), ids.size());
}

// Whether `dir`'s file system takes O_DIRECT (what the store's probe should find).
bool TakesODirect(const std::string& dir) {
  const std::string probe = dir + "/o_direct_probe";
  const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT, 0644);
  if (fd < 0) return false;
  ::close(fd);
  std::filesystem::remove(probe);
  return true;
}

// Flushes write SST files with O_DIRECT by default (where the file system takes it): the rows
// come back exactly from the flushed files, also after a reopen with buffered writes.
TEST_F(RocksStoreTest, DirectWritesFlushExactRows) {
  const std::vector<uint64_t> ids = Iota(300);
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->direct_writes(), TakesODirect(dir_.path()));
    PutRows(*store, 1, kWideDim, ids);
    ASSERT_TRUE(store->Flush().ok());
    ExpectRows(Fetch(*store, 1, kWideDim, ids), kWideDim, ids, std::vector<bool>(ids.size(), true));
  }
  StoreOptions buffered;
  buffered.use_direct_writes = false;
  std::unique_ptr<RocksStore> store = OpenStore(buffered);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->direct_writes());
  ExpectRows(Fetch(*store, 1, kWideDim, ids), kWideDim, ids, std::vector<bool>(ids.size(), true));
  EXPECT_EQ(ScanAll(*store, 1, kWideDim).size(), ids.size());
}

// A file system that refuses O_DIRECT writes (as tmpfs does at open).
class NoDirectWritesFileSystem : public rocksdb::FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  const char* Name() const override { return "NoDirectWritesFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (options.use_direct_writes) return rocksdb::IOStatus::InvalidArgument("no O_DIRECT here");
    return target()->NewWritableFile(name, options, result, dbg);
  }
};

// There the store opens with buffered flushes instead of failing its first flush.
TEST_F(RocksStoreTest, DirectWritesFallBackWhereRefused) {
  auto fs = std::make_shared<NoDirectWritesFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  StoreOptions options;
  options.env = env.get();
  const std::vector<uint64_t> ids = Iota(100);
  {
    std::unique_ptr<RocksStore> store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(store->direct_writes());
    PutRows(*store, 1, kWideDim, ids);
    ASSERT_TRUE(store->Flush().ok());
  }
  std::unique_ptr<RocksStore> store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  ExpectRows(Fetch(*store, 1, kWideDim, ids), kWideDim, ids, std::vector<bool>(ids.size(), true));
}

TEST_F(RocksStoreTest, ScanVectorPrefixesHandsOutPrefixesWithoutFillingTheCache) {
  const std::vector<uint64_t> ids = Iota(200);
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    PutRows(*store, 1, kWideDim, ids);
  }
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const uint64_t usage_before = store->block_cache_stats().usage_bytes;
  std::vector<uint64_t> visited;
  const absl::Status scanned =
      store->ScanVectorPrefixes(1, kWideDim, 48, [&](uint64_t id, std::span<const float> prefix) {
        visited.push_back(id);
        EXPECT_EQ(Bytes(prefix), Bytes(std::span<const float>(RowOf(id, kWideDim)).subspan(0, 48)));
      });
  ASSERT_TRUE(scanned.ok()) << scanned;
  EXPECT_EQ(visited, ids);
  // 600 KB of rows went by; only index and filter blocks may have been added to the cache.
  const RocksStore::BlockCacheStats after_scan = store->block_cache_stats();
  EXPECT_LT(after_scan.usage_bytes - usage_before, 20 * kWideDim * sizeof(float));
  // So a lookup after the scan still misses: the scan did not cache the rows.
  ExpectRows(Fetch(*store, 1, kWideDim, {7}), kWideDim, {7}, {true});
  EXPECT_GT(store->block_cache_stats().data_misses, after_scan.data_misses);

  for (uint32_t bad : {0u, kWideDim + 1}) {
    EXPECT_EQ(
        store->ScanVectorPrefixes(1, kWideDim, bad, [](uint64_t, std::span<const float>) {}).code(),
        absl::StatusCode::kInvalidArgument);
  }
  const absl::Status wrong_dim =
      store->ScanVectorPrefixes(1, 16, 8, [](uint64_t, std::span<const float>) {});
  EXPECT_EQ(wrong_dim.code(), absl::StatusCode::kDataLoss) << wrong_dim;
}

TEST_F(RocksStoreTest, TieredCollectionMetaPersistsAndIsValidated) {
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    CollectionMeta meta = Meta("tiered", 64);
    meta.resident_dims = 16;
    meta.resident_precision = ResidentPrecision::kInt8;
    ASSERT_TRUE(store->CreateCollection(meta).ok());
    CollectionMeta too_many = Meta("too_many", 64);
    too_many.resident_dims = 65;
    EXPECT_EQ(store->CreateCollection(too_many).status().code(),
              absl::StatusCode::kInvalidArgument);
    CollectionMeta bad_precision = Meta("bad_precision", 64);
    bad_precision.resident_precision = static_cast<ResidentPrecision>(3);
    EXPECT_EQ(store->CreateCollection(bad_precision).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<CollectionMeta>> list = store->ListCollections();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].resident_dims, 16u);
  EXPECT_EQ((*list)[0].resident_precision, ResidentPrecision::kInt8);
}

}  // namespace
}  // namespace adanns::storage
