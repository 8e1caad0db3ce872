// One collection in memory: its metadata, the vector table searches run on, and the write path
// that commits to RocksDB (synced) before a change becomes visible.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/plan.h"
#include "index/vector_table.h"
#include "storage/collection_meta.h"
#include "storage/rocks_store.h"

namespace adanns::server {

class Collection {
 public:
  Collection(storage::CollectionMeta meta, storage::RocksStore* store)
      : meta_(std::move(meta)), store_(store), table_(meta_.dim) {}

  // Loads every stored vector into the table (start-up).
  absl::Status Load();

  const storage::CollectionMeta& meta() const { return meta_; }
  size_t size() const;
  size_t vector_memory_bytes() const;

  // Commits ids.size() vectors (row-major in `values`, already validated) as one synced batch,
  // then applies them to the table. NOT_FOUND once the collection is dropped.
  absl::Status Upsert(std::span<const uint64_t> ids, std::span<const float> values);
  // Deletes the ids that exist (one synced batch); returns how many did.
  absl::StatusOr<uint64_t> Delete(std::span<const uint64_t> ids);
  // Copies stored vectors; `missing` receives absent ids. Both in request order.
  void Get(std::span<const uint64_t> ids,
           std::vector<std::pair<uint64_t, std::vector<float>>>* found,
           std::vector<uint64_t>* missing) const;

  // Chooses and runs a plan for each of `num_queries` queries of `query_dims` floats.
  absl::StatusOr<std::vector<index::SearchResult>> Search(std::span<const float> queries,
                                                          uint32_t query_dims, size_t num_queries,
                                                          uint32_t k, const index::Budget& budget,
                                                          size_t threads) const;

  // Refuses further writes; called by the engine before the store drops the data.
  void MarkDropped();

 private:
  absl::Status CheckNotDropped() const;

  const storage::CollectionMeta meta_;
  storage::RocksStore* store_;  // not owned; outlives every collection

  // Serialises writers so RocksDB order and table order agree.
  mutable std::mutex write_mutex_;
  bool dropped_ = false;  // guarded by write_mutex_

  // Searches share, writers apply under exclusive hold (only after the synced commit).
  mutable std::shared_mutex table_mutex_;
  index::VectorTable table_;
};

}  // namespace adanns::server
