// What the RocksStore tests share: a store in a temp dir, exact-bytes helpers, a collection's
// metadata.
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/rocks_store.h"
#include "tests/common/temp_dir.h"

namespace adanns::storage {

// Vector id -> the exact bytes ScanVectors handed out.
using Rows = std::map<uint64_t, std::string>;

inline std::string Bytes(std::span<const float> values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

inline Rows ScanAll(const RocksStore& store, uint32_t collection_id, uint32_t dim) {
  Rows rows;
  const absl::Status status =
      store.ScanVectors(collection_id, dim, [&](uint64_t id, std::span<const float> values) {
        EXPECT_TRUE(rows.emplace(id, Bytes(values)).second) << "id " << id << " visited twice";
      });
  EXPECT_TRUE(status.ok()) << status;
  return rows;
}

inline std::vector<std::string> Names(const RocksStore& store) {
  absl::StatusOr<std::vector<CollectionMeta>> list = store.ListCollections();
  EXPECT_TRUE(list.ok()) << list.status();
  std::vector<std::string> names;
  if (list.ok()) {
    for (const CollectionMeta& meta : *list) names.push_back(meta.name);
  }
  return names;
}

inline CollectionMeta Meta(std::string name, uint32_t dim) {
  CollectionMeta meta;
  meta.name = std::move(name);
  meta.dim = dim;
  meta.metric = Metric::kInnerProduct;
  meta.nesting_dims = {dim / 2, dim};
  return meta;
}

class RocksStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksStore> OpenStore(const StoreOptions& options = {}) {
    absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir_.path(), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  ::adanns::testing::TempDir dir_;
};

}  // namespace adanns::storage
