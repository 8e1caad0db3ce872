// Snapshots (see snapshots.h).
#include "server/snapshots.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::server {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxSnapshotName = 128;
// RocksDB's Checkpoint builds `<dir>.tmp` and renames it to `<dir>` when complete; a kill in
// between leaves the staging directory (CURRENT possibly half written). It is never a snapshot,
// and RocksDB clears it when that name is taken again, so the suffix is reserved.
constexpr char kCheckpointStagingSuffix[] = ".tmp";

bool IsCheckpointStaging(const std::string& name) {
  return absl::EndsWith(name, kCheckpointStagingSuffix);
}

// A RocksDB store directory: it has the CURRENT file naming its manifest.
bool IsStore(const fs::path& dir) {
  std::error_code error;
  return fs::is_regular_file(dir / "CURRENT", error);
}

absl::StatusOr<SnapshotInfo> Describe(const fs::path& dir) {
  SnapshotInfo info;
  info.name = dir.filename().string();
  info.path = dir.string();
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) info.bytes += entry.file_size(error);
  }
  struct stat current {};
  if (stat((dir / "CURRENT").c_str(), &current) != 0) {
    return absl::InternalError(absl::StrCat("cannot read ", dir.string()));
  }
  info.created_unix_seconds = current.st_mtime;
  return info;
}

// Copies each (source, destination relative to the data dir) into `data_dir` (absent or empty:
// FAILED_PRECONDITION otherwise) through a sibling staging directory renamed at the end, so a
// failed copy never leaves a half data dir.
absl::Status CopyIntoEmptyDataDir(const std::vector<std::pair<fs::path, fs::path>>& copies,
                                  const std::string& data_dir) {
  std::error_code error;
  if (fs::exists(data_dir, error) && !fs::is_empty(data_dir, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("restore needs an empty data dir; ", data_dir, " already holds data"));
  }
  const fs::path staging = fs::path(data_dir).string() + ".restoring";
  fs::remove_all(staging, error);
  fs::create_directories(staging, error);
  for (const auto& [from, to] : copies) {
    if (error) break;
    const fs::path target = staging / to;
    if (fs::is_directory(from, error)) {
      fs::create_directories(target, error);
      if (!error) fs::copy(from, target, fs::copy_options::recursive, error);
    } else {
      fs::create_directories(target.parent_path(), error);
      if (!error) fs::copy_file(from, target, error);
    }
  }
  if (!error) {
    fs::remove(data_dir, error);  // the empty directory, when there is one
    error.clear();
    fs::rename(staging, data_dir, error);
  }
  if (error) {
    fs::remove_all(staging, error);
    return absl::InternalError(
        absl::StrCat("cannot restore into ", data_dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

constexpr char kShardMapFile[] = "shard_map.pb";

}  // namespace

absl::Status ValidateSnapshotName(const std::string& name) {
  const bool allowed =
      !name.empty() && name.size() <= kMaxSnapshotName && name[0] != '.' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
      });
  if (!allowed || IsCheckpointStaging(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot name must be 1-", kMaxSnapshotName,
        " characters of [A-Za-z0-9_.-], not starting with '.' nor ending with '",
        kCheckpointStagingSuffix, "' (reserved for checkpoints in progress); got '", name, "'"));
  }
  return absl::OkStatus();
}

std::string DefaultSnapshotName() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "snapshot-%Y%m%dT%H%M%SZ", &utc);
  return text;
}

absl::StatusOr<SnapshotInfo> Snapshots::Create(const storage::RocksStore& store,
                                               std::string name) const {
  if (root_.empty()) {
    return absl::FailedPreconditionError(
        "snapshots are disabled on this server (start it with --snapshot_dir)");
  }
  if (name.empty()) name = DefaultSnapshotName();
  RETURN_IF_ERROR(ValidateSnapshotName(name));
  std::error_code error;
  fs::create_directories(root_, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create the snapshot root ", root_, ": ", error.message()));
  }
  const fs::path dir = fs::path(root_) / name;
  if (fs::exists(dir, error)) {
    return absl::AlreadyExistsError(absl::StrCat("snapshot '", name, "' already exists"));
  }
  RETURN_IF_ERROR(store.Checkpoint(dir.string()));
  return Describe(dir);
}

absl::StatusOr<std::vector<SnapshotInfo>> Snapshots::List() const {
  std::vector<SnapshotInfo> snapshots;
  std::error_code error;
  if (root_.empty() || !fs::exists(root_, error)) return snapshots;
  for (const fs::directory_entry& entry : fs::directory_iterator(root_, error)) {
    if (!entry.is_directory(error) || !IsStore(entry.path()) ||
        IsCheckpointStaging(entry.path().filename().string())) {
      continue;
    }
    ASSIGN_OR_RETURN(SnapshotInfo info, Describe(entry.path()));
    snapshots.push_back(std::move(info));
  }
  std::sort(snapshots.begin(), snapshots.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.name < b.name; });
  return snapshots;
}

absl::Status RestoreSnapshot(const std::string& from, const std::string& data_dir) {
  if (!IsStore(from)) {
    return absl::NotFoundError(absl::StrCat(from, " is not a snapshot (no RocksDB CURRENT file)"));
  }
  return CopyIntoEmptyDataDir({{from, ""}}, data_dir);
}

absl::StatusOr<SnapshotInfo> SnapshotShard(const std::string& root, const std::string& name,
                                           const storage::RocksStore& store,
                                           const v1::ShardMapRecord& map, uint32_t shard) {
  if (root.empty()) {
    return absl::FailedPreconditionError(
        "snapshots are disabled on this data node (start it with --snapshot_dir)");
  }
  RETURN_IF_ERROR(ValidateSnapshotName(name));
  const fs::path collection_dir = fs::path(root) / name / "shards" / map.spec().name();
  ASSIGN_OR_RETURN(SnapshotInfo info,
                   Snapshots(collection_dir.string()).Create(store, std::to_string(shard)));
  // Written after the checkpoint, through a temporary file (per shard: nodes may share the
  // directory): a restore finds it whole or not at all.
  const fs::path map_file = collection_dir / kShardMapFile;
  const std::string staging = absl::StrCat(map_file.string(), ".", shard, ".tmp");
  if (!(std::ofstream(staging, std::ios::binary | std::ios::trunc) << map.SerializeAsString()) ||
      std::rename(staging.c_str(), map_file.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", map_file.string()));
  }
  return info;
}

absl::StatusOr<std::vector<v1::ShardMapRecord>> RestoreNodeSnapshot(const std::string& from,
                                                                    const std::string& data_dir,
                                                                    const std::string& node_id) {
  if (node_id.empty()) {
    return absl::InvalidArgumentError(
        "a data node restoring a cluster snapshot needs its --node_id: the snapshot's shard maps "
        "name the node of every shard");
  }
  const fs::path shards = fs::path(from) / "shards";
  std::error_code error;
  if (!fs::is_directory(shards, error)) {
    return absl::NotFoundError(
        absl::StrCat(from, " is not a data node's snapshot (no shards directory)"));
  }
  std::vector<v1::ShardMapRecord> maps;
  std::vector<std::pair<fs::path, fs::path>> copies;
  for (const fs::directory_entry& collection : fs::directory_iterator(shards, error)) {
    if (!collection.is_directory(error)) continue;
    std::ifstream in(collection.path() / kShardMapFile, std::ios::binary);
    v1::ShardMapRecord map;
    if (!in || !map.ParseFromIstream(&in)) {
      return absl::DataLossError(absl::StrCat(collection.path().string(), " has no readable ",
                                              kShardMapFile, " (the snapshot was cut off)"));
    }
    // Only this node's shards: several nodes may have written into one directory.
    const fs::path relative = fs::path("shards") / collection.path().filename();
    bool held = false;
    for (const v1::ShardAssignment& assignment : map.shards()) {
      if (assignment.node_id() != node_id) continue;
      const fs::path shard = collection.path() / std::to_string(assignment.shard());
      if (!IsStore(shard)) {
        return absl::DataLossError(absl::StrCat(
            "the snapshot has no checkpoint of shard ", assignment.shard(), " of ",
            map.spec().name(), ", which node ", node_id, " held (", shard.string(), ")"));
      }
      copies.emplace_back(shard, relative / std::to_string(assignment.shard()));
      held = true;
    }
    if (held) {
      copies.emplace_back(collection.path() / kShardMapFile, relative / kShardMapFile);
      maps.push_back(std::move(map));
    }
  }
  if (copies.empty()) {
    return absl::NotFoundError(absl::StrCat(from, " holds no shard of node ", node_id,
                                            " (restore each node from its own "
                                            "part, with the --node_id it had)"));
  }
  RETURN_IF_ERROR(CopyIntoEmptyDataDir(copies, data_dir));
  return maps;
}

}  // namespace adanns::server
