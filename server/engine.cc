// Engine: registry of collections over one RocksStore.
#include "server/engine.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "spdlog/spdlog.h"

namespace adanns::server {

std::vector<uint32_t> DefaultNestingDims(uint32_t dim) {
  std::vector<uint32_t> dims;
  for (uint32_t d = 8; d < dim; d *= 2) dims.push_back(d);
  dims.push_back(dim);
  return dims;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const std::string& data_dir,
                                                     const storage::StoreOptions& options,
                                                     CollectionOptions collection_options) {
  ASSIGN_OR_RETURN(std::unique_ptr<storage::RocksStore> store,
                   storage::RocksStore::Open(data_dir, options));
  if (options.use_direct_writes && !store->direct_writes()) {
    spdlog::warn(
        "{}: the file system refuses O_DIRECT; flushes and compactions write through the "
        "page cache",
        data_dir);
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(store), std::move(collection_options)));
  ASSIGN_OR_RETURN(std::vector<storage::CollectionMeta> metas, engine->store_->ListCollections());
  for (storage::CollectionMeta& meta : metas) {
    auto collection = std::make_shared<Collection>(std::move(meta), engine->store_.get(),
                                                   engine->collection_options_);
    RETURN_IF_ERROR(collection->Load());
    engine->collections_.emplace(collection->meta().name, std::move(collection));
  }
  for (const auto& [name, collection] : engine->collections_) collection->ResumeInterruptedBuilds();
  return engine;
}

absl::StatusOr<std::shared_ptr<Collection>> Engine::CreateCollection(storage::CollectionMeta meta) {
  std::lock_guard ddl_lock(ddl_mutex_);
  if (meta.nesting_dims.empty()) meta.nesting_dims = DefaultNestingDims(meta.dim);
  ASSIGN_OR_RETURN(storage::CollectionMeta stored, store_->CreateCollection(std::move(meta)));
  auto collection =
      std::make_shared<Collection>(std::move(stored), store_.get(), collection_options_);
  RETURN_IF_ERROR(collection->Load());  // nothing stored yet; attaches the GPU mirror
  std::lock_guard registry_lock(registry_mutex_);
  collections_.emplace(collection->meta().name, collection);
  return collection;
}

absl::StatusOr<std::shared_ptr<Collection>> Engine::Find(const std::string& name) const {
  std::lock_guard registry_lock(registry_mutex_);
  auto it = collections_.find(name);
  if (it == collections_.end()) {
    return absl::NotFoundError(absl::StrCat("collection '", name, "' does not exist"));
  }
  return it->second;
}

std::vector<std::shared_ptr<Collection>> Engine::List() const {
  std::lock_guard registry_lock(registry_mutex_);
  std::vector<std::shared_ptr<Collection>> all;
  all.reserve(collections_.size());
  for (const auto& [name, collection] : collections_) all.push_back(collection);
  return all;
}

absl::StatusOr<uint64_t> Engine::Drop(const std::string& name) {
  std::lock_guard ddl_lock(ddl_mutex_);
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, Find(name));
  collection->MarkDropped();  // waits for an in-flight write, refuses later ones
  const uint64_t count = collection->size();
  RETURN_IF_ERROR(store_->DropCollection(name));
  std::lock_guard registry_lock(registry_mutex_);
  collections_.erase(name);
  return count;
}

}  // namespace adanns::server
