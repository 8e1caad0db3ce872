// What replication reads from and writes into a shard's RocksDB: the tag every replicated write
// carries in its WAL record, the WAL records themselves, and their decoding on a follower.
//
// A replicated write is one client write (an upsert message's vectors, or a delete): one
// WriteBatch of the vectors column family plus a log-data blob (WriteBatch::PutLogData, kept in
// the WAL only) naming the epoch of the primary that committed it and, on a follower, the write's
// identity on that primary. Everything else a store writes (catalog, settings, index blobs,
// calibration) carries no tag and is never replicated: each replica derives it itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace adanns::storage {

// Identity of a replicated write: the epoch of the primary that first committed it and the WAL
// sequence number it got there. (0, 0) = before any write.
struct WritePosition {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  friend bool operator==(const WritePosition&, const WritePosition&) = default;
};

// The log-data tag of a replicated write's WAL record.
struct ReplicationTag {
  // Epoch of the node's shard record when it committed the write.
  uint64_t epoch = 0;
  // Set on a follower (the write came from another node): its identity there. Unset on the
  // primary that committed it: the identity is (epoch, the record's own sequence).
  std::optional<WritePosition> origin;
};

std::string EncodeReplicationTag(const ReplicationTag& tag);
// nullopt for a blob that is not a replication tag (RocksDB may carry other log data).
std::optional<ReplicationTag> DecodeReplicationTag(std::string_view blob);

// One WAL record: a committed WriteBatch, as GetUpdatesSince returns it.
struct WalRecord {
  uint64_t seq = 0;       // its first sequence number
  uint64_t last_seq = 0;  // its last (seq + operations - 1; seq for a batch of log data only)
  std::string data;       // the WriteBatch's bytes
  std::optional<ReplicationTag> tag;  // set for replicated writes
  // The write's identity (tag required).
  WritePosition Identity() const {
    return tag->origin.has_value() ? *tag->origin : WritePosition{tag->epoch, seq};
  }
};

// A replicated write decoded on the receiving side.
struct ReplicatedWrite {
  ReplicationTag tag;
  uint32_t collection_id = 0;
  std::vector<uint64_t> put_ids;
  std::vector<std::string> put_values;  // raw float32 rows, as stored
  std::vector<uint64_t> delete_ids;
};

// Decodes a WAL record's batch; `column_families` are the sender's names by column family id.
// Only the vectors column family's operations count; a record without a replication tag, or one
// whose keys span collections, is DATA_LOSS.
absl::StatusOr<ReplicatedWrite> DecodeReplicatedWrite(
    std::string_view data, const std::vector<std::string>& column_families);

}  // namespace adanns::storage
