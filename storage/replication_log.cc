// Replication's view of a store: tags on vector writes, the applied position, WAL reads and the
// decoding of a replicated record (replication_log.h).
#include "storage/replication_log.h"

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/transaction_log.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_status.h"
#include "storage/rocks_store.h"
#include "storage/rocks_store_layout.h"

namespace adanns::storage {
namespace {

// "ADRP" then a version byte: other log data (none today) is told apart and skipped.
constexpr char kTagMagic[] = "ADRP\x01";
constexpr size_t kTagMagicSize = 5;
constexpr size_t kTagSize = kTagMagicSize + 8 + 1 + 16;
// Default column family key of a follower's applied position (epoch, seq: 16 bytes).
constexpr char kAppliedPositionKey[] = "replication_applied";
constexpr char kReplicationMarkerKey[] = "replication_marker";

void AppendU64(uint64_t value, std::string* out) {
  for (int shift = 0; shift < 64; shift += 8) out->push_back(static_cast<char>(value >> shift));
}

uint64_t ReadU64(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  return value;
}

std::string EncodePosition(const WritePosition& position) {
  std::string out;
  AppendU64(position.epoch, &out);
  AppendU64(position.seq, &out);
  return out;
}

// Collects a record's tag and vector operations; every other column family is ignored.
class WriteCollector : public rocksdb::WriteBatch::Handler {
 public:
  explicit WriteCollector(const std::vector<std::string>& column_families)
      : column_families_(column_families) {}

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    if (!IsVectors(cf)) return rocksdb::Status::OK();
    if (!TakeKey(key)) return BadKey(key);
    write_.put_ids.push_back(layout::VectorIdFromKey(key.ToStringView()));
    write_.put_values.emplace_back(value.data(), value.size());
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    if (!IsVectors(cf)) return rocksdb::Status::OK();
    if (!TakeKey(key)) return BadKey(key);
    write_.delete_ids.push_back(layout::VectorIdFromKey(key.ToStringView()));
    return rocksdb::Status::OK();
  }
  void LogData(const rocksdb::Slice& blob) override {
    if (auto tag = DecodeReplicationTag(blob.ToStringView())) tag_ = tag;
  }

  std::optional<ReplicationTag> tag_;
  ReplicatedWrite write_;

 private:
  bool IsVectors(uint32_t cf) const {
    return cf < column_families_.size() && column_families_[cf] == layout::kVectorsCfName;
  }
  // The record's keys must all belong to one collection (a shard store holds one).
  bool TakeKey(const rocksdb::Slice& key) {
    if (key.size() != layout::kVectorKeySize) return false;
    uint32_t collection = 0;
    for (int i = 0; i < 4; ++i) collection = (collection << 8) | static_cast<uint8_t>(key[i]);
    if (!seen_key_) {
      write_.collection_id = collection;
      seen_key_ = true;
    }
    return collection == write_.collection_id;
  }
  static rocksdb::Status BadKey(const rocksdb::Slice& key) {
    return rocksdb::Status::Corruption("replicated write with a foreign vector key",
                                       key.ToString(/*hex=*/true));
  }

  const std::vector<std::string>& column_families_;
  bool seen_key_ = false;
};

}  // namespace

std::string EncodeReplicationTag(const ReplicationTag& tag) {
  std::string out(kTagMagic, kTagMagicSize);
  AppendU64(tag.epoch, &out);
  out.push_back(tag.origin.has_value() ? 1 : 0);
  out += EncodePosition(tag.origin.value_or(WritePosition{}));
  return out;
}

std::optional<ReplicationTag> DecodeReplicationTag(std::string_view blob) {
  if (blob.size() != kTagSize || blob.substr(0, kTagMagicSize) != std::string_view(kTagMagic)) {
    return std::nullopt;
  }
  ReplicationTag tag;
  tag.epoch = ReadU64(blob.substr(kTagMagicSize));
  if (blob[kTagMagicSize + 8] != 0) {
    tag.origin = WritePosition{ReadU64(blob.substr(kTagMagicSize + 9)),
                               ReadU64(blob.substr(kTagMagicSize + 17))};
  }
  return tag;
}

absl::StatusOr<ReplicatedWrite> DecodeReplicatedWrite(
    std::string_view data, const std::vector<std::string>& column_families) {
  rocksdb::WriteBatch batch{std::string(data)};
  WriteCollector collector(column_families);
  if (const rocksdb::Status status = batch.Iterate(&collector); !status.ok()) {
    return absl::DataLossError(absl::StrCat("replicated write: ", status.ToString()));
  }
  if (!collector.tag_.has_value()) {
    return absl::DataLossError("replicated write without a replication tag");
  }
  collector.write_.tag = *collector.tag_;
  return std::move(collector.write_);
}

absl::Status RocksStore::TagReplicated(rocksdb::WriteBatch& batch, const WritePosition* origin) {
  ReplicationTag tag;
  if (origin != nullptr) {
    tag.epoch = origin->epoch;
    tag.origin = *origin;
    RETURN_IF_ERROR(FromRocks(
        batch.Put(handles_[layout::kDefaultCf], kAppliedPositionKey, EncodePosition(*origin)),
        "batching the applied position"));
  } else {
    tag.epoch = replication_epoch_.load();
    if (tag.epoch == 0) return absl::OkStatus();
  }
  return FromRocks(batch.PutLogData(EncodeReplicationTag(tag)), "batching the replication tag");
}

absl::Status RocksStore::CommitReplicationMarker() {
  const uint64_t epoch = replication_epoch_.load();
  if (epoch == 0) {
    return absl::FailedPreconditionError("a replication marker needs a primary's epoch");
  }
  rocksdb::WriteBatch batch;
  // A write of something (a batch of log data alone carries no sequence of its own).
  RETURN_IF_ERROR(FromRocks(
      batch.Put(handles_[layout::kDefaultCf], kReplicationMarkerKey, EncodePosition({epoch, 0})),
      "batching the replication marker"));
  RETURN_IF_ERROR(TagReplicated(batch, nullptr));
  return Commit(batch, "writing the replication marker");
}

absl::StatusOr<WritePosition> RocksStore::AppliedPosition() const {
  std::string value;
  const rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), handles_[layout::kDefaultCf], kAppliedPositionKey, &value);
  if (status.IsNotFound()) return WritePosition{};
  RETURN_IF_ERROR(FromRocks(status, "reading the applied position"));
  if (value.size() != 16) {
    return absl::DataLossError(absl::StrCat("applied position holds ", value.size(), " bytes"));
  }
  return WritePosition{ReadU64(value), ReadU64(std::string_view(value).substr(8))};
}

uint64_t RocksStore::LatestSequence() const { return db_->GetLatestSequenceNumber(); }

absl::StatusOr<std::vector<WalRecord>> RocksStore::ReadWal(uint64_t from_seq, size_t max_records,
                                                           size_t max_bytes) const {
  std::vector<WalRecord> records;
  if (from_seq > db_->GetLatestSequenceNumber()) return records;
  std::unique_ptr<rocksdb::TransactionLogIterator> iterator;
  const rocksdb::Status opened = db_->GetUpdatesSince(from_seq, &iterator);
  if (opened.IsNotFound()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the WAL no longer holds sequence ", from_seq, ": ", opened.ToString()));
  }
  RETURN_IF_ERROR(FromRocks(opened, "opening the WAL"));
  size_t bytes = 0;
  for (; iterator->Valid() && records.size() < max_records && bytes < max_bytes; iterator->Next()) {
    rocksdb::BatchResult result = iterator->GetBatch();
    WalRecord record;
    record.seq = result.sequence;
    const uint32_t count = result.writeBatchPtr->Count();
    record.last_seq = count == 0 ? result.sequence : result.sequence + count - 1;
    if (records.empty() && record.seq > from_seq) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the WAL no longer holds sequence ", from_seq, " (it starts at ", record.seq, ")"));
    }
    record.data = result.writeBatchPtr->Data();
    const std::vector<std::string> no_column_families;  // the tag alone is wanted
    WriteCollector tag_only(no_column_families);
    if (result.writeBatchPtr->Iterate(&tag_only).ok()) record.tag = tag_only.tag_;
    bytes += record.data.size();
    records.push_back(std::move(record));
  }
  // An iterator that stops early on a WAL error (not merely the end) says so.
  if (!iterator->Valid() && !iterator->status().ok() && !iterator->status().IsNotFound()) {
    if (records.empty()) RETURN_IF_ERROR(FromRocks(iterator->status(), "reading the WAL"));
  }
  return records;
}

uint64_t RocksStore::EarliestWalSequence() const {
  rocksdb::VectorLogPtr files;
  if (!db_->GetSortedWalFiles(files).ok() || files.empty())
    return db_->GetLatestSequenceNumber() + 1;
  return std::max<uint64_t>(1, files.front()->StartSequence());
}

absl::StatusOr<WritePosition> RocksStore::LastReplicatedPosition() const {
  std::optional<WritePosition> last;
  uint64_t from = EarliestWalSequence();
  for (;;) {
    absl::StatusOr<std::vector<WalRecord>> records = ReadWal(from, 1024, 64 << 20);
    if (!records.ok()) break;  // not retained from the start: the applied position stands
    if (records->empty()) break;
    for (const WalRecord& record : *records) {
      if (record.tag.has_value()) last = record.Identity();
    }
    from = records->back().last_seq + 1;
  }
  if (last.has_value()) return *last;
  return AppliedPosition();
}

absl::StatusOr<uint64_t> RocksStore::ResumeSequenceAfter(const WritePosition& position) const {
  const bool from_start = position == WritePosition{};
  // A copy without writes resumes from the first record, which the WAL must still hold; any
  // other position is looked up from the oldest record kept.
  uint64_t from = from_start ? 1 : EarliestWalSequence();
  for (;;) {
    absl::StatusOr<std::vector<WalRecord>> records = ReadWal(from, 1024, 64 << 20);
    if (!records.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("a replica at (epoch ", position.epoch, ", seq ", position.seq,
                       ") cannot resume from this WAL: ", records.status().message()));
    }
    if (from_start) return uint64_t{1};
    if (records->empty()) break;
    for (const WalRecord& record : *records) {
      if (record.tag.has_value() && record.Identity() == position) return record.last_seq + 1;
    }
    from = records->back().last_seq + 1;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "this WAL does not hold the write (epoch ", position.epoch, ", seq ", position.seq,
      "): the replica holds writes this copy never had, or retention dropped them"));
}

std::vector<std::string> RocksStore::ColumnFamilyNamesById() const {
  std::vector<std::string> names;
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle->GetID() >= names.size()) names.resize(handle->GetID() + 1);
    names[handle->GetID()] = handle->GetName();
  }
  return names;
}

}  // namespace adanns::storage
