// Backups: consistent snapshots of the whole store (RocksDB checkpoints: every collection, its
// vectors, index blobs and calibration, as of one moment) in directories under one server-side
// root, and the offline restore that copies one into a fresh data dir. A data node's part of a
// cluster snapshot: a checkpoint per shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adanns/v1/cluster.pb.h"
#include "storage/rocks_store.h"

namespace adanns::server {

struct SnapshotInfo {
  std::string name;
  std::string path;
  uint64_t bytes = 0;  // on disk (files shared with the live store by hard links count in full)
  int64_t created_unix_seconds = 0;
};

class Snapshots {
 public:
  // Snapshots live in `root` (created on first use); an empty root disables them.
  explicit Snapshots(std::string root) : root_(std::move(root)) {}

  // Checkpoints `store` into root/name. `name`: 1-128 of [A-Za-z0-9_.-], not starting with '.'
  // (no path can be named) nor ending with ".tmp" (a checkpoint in progress), or empty for
  // "snapshot-<UTC time>". INVALID_ARGUMENT for a bad name, ALREADY_EXISTS for a taken one,
  // FAILED_PRECONDITION when snapshots are disabled.
  absl::StatusOr<SnapshotInfo> Create(const storage::RocksStore& store, std::string name) const;
  // Every complete snapshot under the root, by name (an empty list when the root does not exist
  // yet); a checkpoint a crash cut off is not one.
  absl::StatusOr<std::vector<SnapshotInfo>> List() const;

 private:
  std::string root_;
};

// Copies the snapshot at `from` into `data_dir`, which must not exist or be empty
// (FAILED_PRECONDITION otherwise); NOT_FOUND when `from` is not a snapshot.
absl::Status RestoreSnapshot(const std::string& from, const std::string& data_dir);

// Snapshot names: 1-128 of [A-Za-z0-9_.-], not starting with '.' nor ending with ".tmp";
// INVALID_ARGUMENT naming the rule otherwise.
absl::Status ValidateSnapshotName(const std::string& name);
// "snapshot-<UTC time>", the name of a snapshot created without one.
std::string DefaultSnapshotName();

// Data nodes (a cluster snapshot is a set of per-shard checkpoints): checkpoints one shard's
// `store` into root/name/shards/<collection>/<shard> and writes the collection's shard map beside
// it (shard_map.pb). Statuses as Snapshots::Create.
absl::StatusOr<SnapshotInfo> SnapshotShard(const std::string& root, const std::string& name,
                                           const storage::RocksStore& store,
                                           const v1::ShardMapRecord& map, uint32_t shard);
// Copies node `node_id`'s shards from a snapshot directory (root/name of SnapshotShard; nodes may
// share it) into `data_dir`, which must not exist or be empty; returns the shard maps of the
// collections it restored (to be recorded in etcd again where absent). INVALID_ARGUMENT without a
// node id, NOT_FOUND when the snapshot holds none of its shards, DATA_LOSS when one is missing.
absl::StatusOr<std::vector<v1::ShardMapRecord>> RestoreNodeSnapshot(const std::string& from,
                                                                    const std::string& data_dir,
                                                                    const std::string& node_id);

}  // namespace adanns::server
