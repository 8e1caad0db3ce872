// Tests for storage/rocks_store against a real RocksDB in a temporary directory: catalog, exact
// vector bytes, isolation, reopen, space reclamation on drop and the on-disk format check.
#include "storage/rocks_store.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/common/temp_dir.h"
#include "tests/storage/rocks_store_fixture.h"

namespace adanns::storage {
namespace {

using ::adanns::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// Bytes of all SST files: what the store's data really occupies on disk once flushed.
uint64_t SstBytes(const std::string& path) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() == ".sst") total += entry.file_size();
  }
  return total;
}

// Runs `edit` on the store's RocksDB directly, with every column family open, to fake old,
// newer or damaged stores.
void EditRaw(
    const std::string& path,
    const std::function<void(rocksdb::DB&, std::map<std::string, rocksdb::ColumnFamilyHandle*>&)>&
        edit) {
  rocksdb::DBOptions options;
  options.create_missing_column_families = true;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
  if (std::find(names.begin(), names.end(), "added_by_a_newer_build") == names.end()) {
    names.push_back("added_by_a_newer_build");
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;
  for (size_t i = 0; i < names.size(); ++i) by_name[names[i]] = handles[i];
  edit(*db, by_name);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  ASSERT_TRUE(db->Close().ok());
}

TEST_F(RocksStoreTest, CreateListDuplicateDrop) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<CollectionMeta> b = store->CreateCollection(Meta("b", 8));
  absl::StatusOr<CollectionMeta> a = store->CreateCollection(Meta("a", 16));
  ASSERT_TRUE(b.ok() && a.ok());
  EXPECT_EQ(b->id, 1u);
  EXPECT_EQ(a->id, 2u);

  absl::StatusOr<std::vector<CollectionMeta>> list = store->ListCollections();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[0].id, 2u);
  EXPECT_EQ((*list)[0].dim, 16u);
  EXPECT_EQ((*list)[0].metric, Metric::kInnerProduct);
  EXPECT_THAT((*list)[0].nesting_dims, ElementsAre(8, 16));

  EXPECT_EQ(store->CreateCollection(Meta("a", 4)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store->DropCollection("a").ok());
  EXPECT_EQ(store->DropCollection("a").code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Names(*store), ElementsAre("b"));

  absl::StatusOr<CollectionMeta> again = store->CreateCollection(Meta("a", 16));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, 3u) << "ids are never reused";
}

TEST_F(RocksStoreTest, CreateRejectsEmptyNameAndZeroDim) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CreateCollection(Meta("", 4)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->CreateCollection(Meta("x", 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RocksStoreTest, ConcurrentCreatesOfOneNameLetExactlyOneWin) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8;
  std::vector<absl::StatusCode> codes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { codes[i] = store->CreateCollection(Meta("same", 4)).status().code(); });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::count(codes.begin(), codes.end(), absl::StatusCode::kOk), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), absl::StatusCode::kAlreadyExists), kThreads - 1);
}

TEST_F(RocksStoreTest, PutScanRoundTripsExactBytesInIdOrder) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr float kMin = std::numeric_limits<float>::denorm_min();
  constexpr float kMax = std::numeric_limits<float>::max();
  const std::vector<uint64_t> ids = {UINT64_MAX, 0, uint64_t{1} << 32, 42};
  const std::vector<float> values = {-0.0f, kMin,  -kMin, 1e-40f,  // denormals and negative zero
                                     kMax,  -kMax, 0.0f,  std::numeric_limits<float>::infinity(),
                                     1.0f,  -1.5f, 3e38f, 1e-38f,
                                     0.1f,  -0.2f, 7.0f,  -1e-45f};
  ASSERT_TRUE(store->PutVectors(5, 4, ids, values).ok());

  const std::span<const float> all(values);
  EXPECT_THAT(ScanAll(*store, 5, 4),
              ElementsAre(Pair(0, Bytes(all.subspan(4, 4))), Pair(42, Bytes(all.subspan(12, 4))),
                          Pair(uint64_t{1} << 32, Bytes(all.subspan(8, 4))),
                          Pair(UINT64_MAX, Bytes(all.subspan(0, 4)))));
}

TEST_F(RocksStoreTest, PutRejectsWrongValueCount) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::vector<uint64_t> ids = {1, 2};
  const std::vector<float> values(7);
  EXPECT_EQ(store->PutVectors(1, 4, ids, values).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->PutVectors(1, 0, ids, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ScanAll(*store, 1, 4), IsEmpty());
}

TEST_F(RocksStoreTest, RePutReplacesAndDeleteRemoves) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::vector<float> first = {1, 2, 3, 4};
  const std::vector<float> second = {5, 6};
  ASSERT_TRUE(store->PutVectors(1, 2, std::vector<uint64_t>{7, 8}, first).ok());
  ASSERT_TRUE(store->PutVectors(1, 2, std::vector<uint64_t>{7}, second).ok());
  EXPECT_THAT(ScanAll(*store, 1, 2),
              ElementsAre(Pair(7, Bytes(second)), Pair(8, Bytes(std::span(first).subspan(2)))));

  ASSERT_TRUE(store->DeleteVectors(1, std::vector<uint64_t>{7, 999}).ok());
  EXPECT_THAT(ScanAll(*store, 1, 2), ElementsAre(Pair(8, Bytes(std::span(first).subspan(2)))));
}

TEST_F(RocksStoreTest, ScanRejectsValuesOfAnotherDim) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutVectors(1, 4, std::vector<uint64_t>{3}, std::vector<float>(4)).ok());
  const absl::Status status = store->ScanVectors(1, 3, [](uint64_t, std::span<const float>) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("vector 3"));
}

TEST_F(RocksStoreTest, CollectionsDoNotSeeEachOthersVectors) {
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  // Neighbouring ids, including the last one, whose key range has no successor prefix.
  for (uint32_t collection : {1u, 2u, UINT32_MAX - 1, UINT32_MAX}) {
    const std::vector<float> row = {static_cast<float>(collection), 0.5f};
    ASSERT_TRUE(store
                    ->PutVectors(collection, 2, std::vector<uint64_t>{0, UINT64_MAX},
                                 std::vector<float>{row[0], row[1], row[0], row[1]})
                    .ok());
    ASSERT_TRUE(store->PutVectors(collection, 2, std::vector<uint64_t>{collection}, row).ok());
  }
  for (uint32_t collection : {1u, 2u, UINT32_MAX - 1, UINT32_MAX}) {
    const std::string row = Bytes(std::vector<float>{static_cast<float>(collection), 0.5f});
    EXPECT_THAT(ScanAll(*store, collection, 2),
                ElementsAre(Pair(0, row), Pair(collection, row), Pair(UINT64_MAX, row)));
  }
  EXPECT_THAT(ScanAll(*store, 3, 2), IsEmpty());
}

TEST_F(RocksStoreTest, ReopenRestoresEverything) {
  const std::vector<float> values = {-0.0f, 2.5f, std::numeric_limits<float>::denorm_min(), 4};
  uint32_t id = 0;
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    absl::StatusOr<CollectionMeta> meta = store->CreateCollection(Meta("kept", 2));
    ASSERT_TRUE(meta.ok());
    id = meta->id;
    ASSERT_TRUE(store->CreateCollection(Meta("dropped", 2)).ok());
    ASSERT_TRUE(store->DropCollection("dropped").ok());
    ASSERT_TRUE(
        store->PutVectors(id, 2, std::vector<uint64_t>{10, 11, 12}, {values.data(), 6}).ok());
    ASSERT_TRUE(store->DeleteVectors(id, std::vector<uint64_t>{11}).ok());
  }
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Names(*store), ElementsAre("kept"));
  EXPECT_THAT(ScanAll(*store, id, 2), ElementsAre(Pair(10, Bytes({values.data(), 2})),
                                                  Pair(12, Bytes({values.data() + 4, 2}))));
  absl::StatusOr<CollectionMeta> next = store->CreateCollection(Meta("next", 2));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->id, 3u) << "the id counter is persisted";
}

TEST_F(RocksStoreTest, DropRemovesVectorsAndReclaimsDiskSpace) {
  constexpr uint32_t kDim = 64;
  constexpr size_t kRows = 20000;
  uint32_t dropped_id = 0;
  uint32_t kept_id = 0;
  {
    std::unique_ptr<RocksStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    dropped_id = store->CreateCollection(Meta("big", kDim))->id;
    kept_id = store->CreateCollection(Meta("small", kDim))->id;
    // Pseudo-random values so the default compression cannot shrink the SST files much.
    uint32_t state = 12345;
    std::vector<float> values(1000 * kDim);
    std::vector<uint64_t> ids(1000);
    for (size_t start = 0; start < kRows; start += ids.size()) {
      for (float& value : values)
        value = static_cast<float>((state = state * 1664525u + 1013904223u) >> 8);
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = start + i;
      ASSERT_TRUE(store->PutVectors(dropped_id, kDim, ids, values).ok());
    }
    ASSERT_TRUE(
        store->PutVectors(kept_id, kDim, std::vector<uint64_t>{1}, {values.data(), kDim}).ok());
  }
  // Reopening replays the WAL and flushes it to an SST file.
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  const uint64_t before = SstBytes(dir_.path());
  EXPECT_GT(before, kRows * kDim * sizeof(float) / 2);

  ASSERT_TRUE(store->DropCollection("big").ok());
  EXPECT_THAT(ScanAll(*store, dropped_id, kDim), IsEmpty());
  EXPECT_EQ(ScanAll(*store, kept_id, kDim).size(), 1u);
  // Obsolete files are certainly deleted once the store has been closed and reopened.
  store.reset();
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  const uint64_t after = SstBytes(dir_.path());
  EXPECT_LT(after, before / 20) << "before " << before << " bytes, after " << after;

  absl::StatusOr<CollectionMeta> recreated = store->CreateCollection(Meta("big", kDim));
  ASSERT_TRUE(recreated.ok());
  EXPECT_NE(recreated->id, dropped_id);
  EXPECT_THAT(ScanAll(*store, recreated->id, kDim), IsEmpty());
  EXPECT_THAT(ScanAll(*store, dropped_id, kDim), IsEmpty());
  EXPECT_EQ(ScanAll(*store, kept_id, kDim).size(), 1u);
}

TEST_F(RocksStoreTest, FreshStoreRecordsFormatVersion) {
  ASSERT_NE(OpenStore(), nullptr);
  std::string value;
  EditRaw(dir_.path(), [&](rocksdb::DB& db, auto& cfs) {
    ASSERT_TRUE(db.Get(rocksdb::ReadOptions(), cfs["default"], "format_version", &value).ok());
  });
  EXPECT_EQ(value, std::string("\x01\x00\x00\x00", 4));
  static_assert(kFormatVersion == 1, "update the expected bytes");
}

TEST_F(RocksStoreTest, RefusesStoreOfNewerFormat) {
  ASSERT_NE(OpenStore(), nullptr);
  // A newer build may also have added a column family; the format check must still be reached.
  EditRaw(dir_.path(), [](rocksdb::DB& db, auto& cfs) {
    const uint32_t newer = kFormatVersion + 1;
    char bytes[4] = {static_cast<char>(newer), static_cast<char>(newer >> 8),
                     static_cast<char>(newer >> 16), static_cast<char>(newer >> 24)};
    ASSERT_TRUE(
        db.Put(rocksdb::WriteOptions(), cfs["default"], "format_version", rocksdb::Slice(bytes, 4))
            .ok());
  });
  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("newer adanns (format 2)"));
}

TEST_F(RocksStoreTest, DamagedStoreIsDataLoss) {
  ASSERT_NE(OpenStore(), nullptr);
  EditRaw(dir_.path(), [](rocksdb::DB& db, auto& cfs) {
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), cfs["collections"], "x", "garbage").ok());
  });
  std::unique_ptr<RocksStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->ListCollections().status().code(), absl::StatusCode::kDataLoss);
  store.reset();

  EditRaw(dir_.path(), [](rocksdb::DB& db, auto& cfs) {
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), cfs["default"], "format_version", "\x01").ok());
  });
  EXPECT_EQ(RocksStore::Open(dir_.path()).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RocksStoreTest, MissingStoreWithoutCreateIfMissingFails) {
  StoreOptions options;
  options.create_if_missing = false;
  EXPECT_FALSE(RocksStore::Open(dir_.path() + "/absent", options).ok());
}

}  // namespace
}  // namespace adanns::storage

namespace adanns::storage {
namespace {

constexpr uint32_t kNoCollection = UINT32_MAX;

// Creates collection "c" (dim 4); its id, or kNoCollection on failure.
uint32_t CreateCollectionC(RocksStore& store) {
  CollectionMeta meta;
  meta.name = "c";
  meta.dim = 4;
  auto created = store.CreateCollection(meta);
  return created.ok() ? created->id : kNoCollection;
}

TEST(RocksStoreIndexBlobTest, PutGetDeleteAndDropWithTheCollection) {
  adanns::testing::TempDir dir;
  std::string blob(1000, '\0');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
  uint32_t id = 0;
  {
    auto store = RocksStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    id = CreateCollectionC(**store);
    ASSERT_NE(id, kNoCollection);
    EXPECT_FALSE((*store)->GetIndexBlob(id, "ivf")->has_value());
    ASSERT_TRUE((*store)->PutIndexBlob(id, "ivf", blob).ok());
    ASSERT_TRUE((*store)->PutIndexBlob(id, "ivf2", "other").ok());
    ASSERT_TRUE((*store)->DeleteIndexBlob(id, "ivf2").ok());
  }
  auto store = RocksStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto loaded = (*store)->GetIndexBlob(id, "ivf");
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ(**loaded, blob);  // exact bytes, embedded zeros included
  EXPECT_FALSE((*store)->GetIndexBlob(id, "ivf2")->has_value());
  ASSERT_TRUE((*store)->DropCollection("c").ok());
  EXPECT_FALSE((*store)->GetIndexBlob(id, "ivf")->has_value());
}

// Settings (replicated) and index blobs (derived, never replicated) are kept apart: the same name
// in both is two values, blobs never list settings, an earlier build's setting stored among the
// blobs moves over once, and settings persist and drop with the collection.
TEST(RocksStoreSettingsTest, SettingsLiveApartFromIndexBlobsAndMoveOverOnce) {
  adanns::testing::TempDir dir;
  uint32_t id = 0;
  {
    auto store = RocksStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    id = CreateCollectionC(**store);
    ASSERT_NE(id, kNoCollection);
    ASSERT_TRUE((*store)->PutSetting(id, "budget", "set").ok());
    ASSERT_TRUE((*store)->PutIndexBlob(id, "ivf", "index").ok());
    EXPECT_FALSE((*store)->GetIndexBlob(id, "budget")->has_value());
    EXPECT_FALSE((*store)->GetSetting(id, "ivf")->has_value());
    EXPECT_EQ(*(*store)->ListIndexBlobs(id), std::vector<std::string>{"ivf"});
    ASSERT_TRUE((*store)->PutIndexBlob(id, "old", "from an earlier build").ok());
  }
  auto store = RocksStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(**(*store)->GetSetting(id, "budget"), "set");
  EXPECT_TRUE(*(*store)->MoveIndexBlobToSetting(id, "old"));
  EXPECT_FALSE(*(*store)->MoveIndexBlobToSetting(id, "old"));
  EXPECT_EQ(**(*store)->GetSetting(id, "old"), "from an earlier build");
  EXPECT_FALSE((*store)->GetIndexBlob(id, "old")->has_value());
  ASSERT_TRUE((*store)->DeleteSetting(id, "old").ok());
  EXPECT_FALSE((*store)->GetSetting(id, "old")->has_value());
  ASSERT_TRUE((*store)->DropCollection("c").ok());
  EXPECT_FALSE((*store)->GetSetting(id, "budget")->has_value());
}

}  // namespace
}  // namespace adanns::storage
