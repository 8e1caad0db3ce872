// RocksStore's per-(collection, name) values: index blobs (derived state, never replicated) and
// collection settings (replicated), one column family each, the same key layout.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_status.h"
#include "storage/rocks_store.h"
#include "storage/rocks_store_layout.h"

namespace adanns::storage {

using layout::kIndexBlobsCf;
using layout::kSettingsCf;
using layout::NamedKey;
using layout::NamedKeyRange;

absl::Status RocksStore::PutNamed(size_t cf, uint32_t collection_id, const std::string& name,
                                  std::string_view bytes, absl::string_view what) {
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(FromRocks(batch.Put(handles_[cf], NamedKey(collection_id, name),
                                      rocksdb::Slice(bytes.data(), bytes.size())),
                            absl::StrCat("batching ", what)));
  return Commit(batch, absl::StrCat("writing ", what));
}

absl::StatusOr<std::optional<std::string>> RocksStore::GetNamed(size_t cf, uint32_t collection_id,
                                                                const std::string& name,
                                                                absl::string_view what) const {
  std::string bytes;
  rocksdb::ReadOptions read_options;
  // Read once per load, and possibly large: caching it would only evict hot vector blocks.
  read_options.fill_cache = false;
  const rocksdb::Status status =
      db_->Get(read_options, handles_[cf], NamedKey(collection_id, name), &bytes);
  if (status.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(status, absl::StrCat("reading ", what)));
  return bytes;
}

absl::Status RocksStore::DeleteNamed(size_t cf, uint32_t collection_id, const std::string& name,
                                     absl::string_view what) {
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(FromRocks(batch.Delete(handles_[cf], NamedKey(collection_id, name)),
                            absl::StrCat("batching ", what, " delete")));
  return Commit(batch, absl::StrCat("deleting ", what));
}

absl::Status RocksStore::PutIndexBlob(uint32_t collection_id, const std::string& name,
                                      std::string_view bytes) {
  return PutNamed(kIndexBlobsCf, collection_id, name, bytes, "index blob");
}

absl::StatusOr<std::optional<std::string>> RocksStore::GetIndexBlob(uint32_t collection_id,
                                                                    const std::string& name) const {
  return GetNamed(kIndexBlobsCf, collection_id, name, "index blob");
}

absl::Status RocksStore::DeleteIndexBlob(uint32_t collection_id, const std::string& name) {
  return DeleteNamed(kIndexBlobsCf, collection_id, name, "index blob");
}

absl::Status RocksStore::PutSetting(uint32_t collection_id, const std::string& name,
                                    std::string_view bytes) {
  return PutNamed(kSettingsCf, collection_id, name, bytes, "collection setting");
}

absl::StatusOr<std::optional<std::string>> RocksStore::GetSetting(uint32_t collection_id,
                                                                  const std::string& name) const {
  return GetNamed(kSettingsCf, collection_id, name, "collection setting");
}

absl::Status RocksStore::DeleteSetting(uint32_t collection_id, const std::string& name) {
  return DeleteNamed(kSettingsCf, collection_id, name, "collection setting");
}

absl::StatusOr<bool> RocksStore::MoveIndexBlobToSetting(uint32_t collection_id,
                                                        const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<std::string> blob, GetIndexBlob(collection_id, name));
  if (!blob.has_value()) return false;
  const std::string key = NamedKey(collection_id, name);
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(FromRocks(batch.Put(handles_[kSettingsCf], key, *blob), "batching setting"));
  RETURN_IF_ERROR(FromRocks(batch.Delete(handles_[kIndexBlobsCf], key), "batching blob delete"));
  RETURN_IF_ERROR(Commit(batch, "moving an index blob to the settings"));
  return true;
}

absl::StatusOr<std::vector<std::string>> RocksStore::ListIndexBlobs(uint32_t collection_id) const {
  const auto [begin, end] = NamedKeyRange(collection_id);
  rocksdb::ReadOptions read_options;
  const rocksdb::Slice upper_bound(end);
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, handles_[kIndexBlobsCf]));
  std::vector<std::string> names;
  for (it->Seek(begin); it->Valid(); it->Next()) {
    names.emplace_back(it->key().data() + begin.size(), it->key().size() - begin.size());
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing index blobs"));
  return names;
}

}  // namespace adanns::storage
