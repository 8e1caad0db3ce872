// The collections registry: opens the store, loads every collection at start-up, and serves
// create / lookup / list / drop. Below the transport: plain C++ types, no proto.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/collection.h"
#include "storage/rocks_store.h"

namespace adanns::server {

class Engine {
 public:
  // Opens the data dir and loads every collection into memory.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& data_dir,
                                                      const storage::StoreOptions& options = {},
                                                      CollectionOptions collection_options = {});

  // `meta.name`, `dim`, `metric`, `nesting_dims` validated by the caller; empty nesting dims get
  // the default (powers of two from 8 below dim, plus dim).
  absl::StatusOr<std::shared_ptr<Collection>> CreateCollection(storage::CollectionMeta meta);
  // NOT_FOUND naming the collection.
  absl::StatusOr<std::shared_ptr<Collection>> Find(const std::string& name) const;
  // Ordered by name.
  std::vector<std::shared_ptr<Collection>> List() const;
  // Returns how many vectors it held. NOT_FOUND if absent.
  absl::StatusOr<uint64_t> Drop(const std::string& name);
  // The store every collection commits to (snapshots checkpoint it).
  const storage::RocksStore& store() const { return *store_; }
  storage::RocksStore& store() { return *store_; }

 private:
  Engine(std::unique_ptr<storage::RocksStore> store, CollectionOptions collection_options)
      : store_(std::move(store)), collection_options_(std::move(collection_options)) {}

  std::unique_ptr<storage::RocksStore> store_;
  const CollectionOptions collection_options_;
  std::mutex ddl_mutex_;               // serialises create and drop
  mutable std::mutex registry_mutex_;  // guards collections_ (held briefly)
  std::map<std::string, std::shared_ptr<Collection>> collections_;
};

// Powers of two from 8 below dim, plus dim.
std::vector<uint32_t> DefaultNestingDims(uint32_t dim);

}  // namespace adanns::server
