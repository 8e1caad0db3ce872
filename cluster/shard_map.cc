#include "cluster/shard_map.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::cluster {
namespace {

constexpr size_t kMaxClusterNameLength = 64;

bool ClusterNameChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-'; }

}  // namespace

uint64_t Fnv1a64(absl::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

absl::StatusOr<ClusterKeys> ClusterKeys::Create(absl::string_view cluster) {
  if (cluster.empty() || cluster.size() > kMaxClusterNameLength ||
      !std::all_of(cluster.begin(), cluster.end(), ClusterNameChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cluster: '", cluster, "' is not 1-64 characters from [A-Za-z0-9_.-]"));
  }
  return ClusterKeys(absl::StrCat("/", cluster, "/"));
}

uint64_t IdHash(uint64_t id) {
  uint64_t z = id + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint32_t ShardOfId(uint64_t id, uint32_t shard_count) {
  return static_cast<uint32_t>(IdHash(id) % shard_count);
}

absl::StatusOr<std::vector<std::string>> PlaceShards(absl::string_view collection,
                                                     uint32_t shard_count,
                                                     std::vector<std::string> live_nodes) {
  std::sort(live_nodes.begin(), live_nodes.end());
  live_nodes.erase(std::unique(live_nodes.begin(), live_nodes.end()), live_nodes.end());
  if (live_nodes.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection ", collection, ": no live data node to place its shards on"));
  }
  const uint64_t start = Fnv1a64(collection) % live_nodes.size();
  std::vector<std::string> placement;
  placement.reserve(shard_count);
  for (uint32_t shard = 0; shard < shard_count; ++shard) {
    placement.push_back(live_nodes[(start + shard) % live_nodes.size()]);
  }
  return placement;
}

absl::StatusOr<std::vector<std::vector<std::string>>> PlaceReplicas(
    absl::string_view collection, uint32_t shard_count, uint32_t replicas,
    std::vector<std::string> live_nodes) {
  std::sort(live_nodes.begin(), live_nodes.end());
  live_nodes.erase(std::unique(live_nodes.begin(), live_nodes.end()), live_nodes.end());
  if (live_nodes.size() < replicas) {
    return absl::FailedPreconditionError(absl::StrCat("collection ", collection, ": ", replicas,
                                                      " replicas need as many live data nodes, ",
                                                      live_nodes.size(), " are live"));
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> primaries,
                   PlaceShards(collection, shard_count, live_nodes));
  std::vector<std::vector<std::string>> placement(shard_count);
  for (uint32_t shard = 0; shard < shard_count; ++shard) {
    const size_t first = static_cast<size_t>(
        std::find(live_nodes.begin(), live_nodes.end(), primaries[shard]) - live_nodes.begin());
    for (uint32_t copy = 0; copy < replicas; ++copy) {
      placement[shard].push_back(live_nodes[(first + copy) % live_nodes.size()]);
    }
  }
  return placement;
}

adanns::v1::ShardMapRecord MakeShardMap(const adanns::v1::CreateCollectionRequest& spec,
                                        const std::vector<std::vector<std::string>>& shard_nodes) {
  adanns::v1::ShardMapRecord record;
  *record.mutable_spec() = spec;
  for (uint32_t shard = 0; shard < shard_nodes.size(); ++shard) {
    adanns::v1::ShardAssignment* assignment = record.add_shards();
    assignment->set_shard(shard);
    assignment->set_node_id(shard_nodes[shard].front());
    if (shard_nodes[shard].size() > 1) {
      for (const std::string& node : shard_nodes[shard]) assignment->add_replicas(node);
    }
  }
  return record;
}

std::vector<std::string> ReplicaNodes(const adanns::v1::ShardAssignment& assignment) {
  if (assignment.replicas().empty()) return {assignment.node_id()};
  return {assignment.replicas().begin(), assignment.replicas().end()};
}

uint32_t MinInSync(uint32_t replicas) { return replicas >= 3 ? 2 : 1; }

absl::StatusOr<adanns::v1::ShardStateRecord> EffectiveShardState(
    absl::string_view key, const adanns::v1::ShardAssignment& assignment,
    int64_t collection_revision, const std::optional<std::string>& record_bytes) {
  adanns::v1::ShardStateRecord state;
  if (record_bytes.has_value()) {
    if (!state.ParseFromString(*record_bytes) || state.epoch() == 0 || state.primary().empty()) {
      return absl::InternalError(absl::StrCat("etcd key ", key, ": not a shard state record"));
    }
    if (state.collection_revision() == collection_revision) return state;
    state.Clear();  // left by an earlier collection of the name
  }
  state.set_epoch(1);
  state.set_primary(assignment.node_id());
  for (const std::string& node : ReplicaNodes(assignment)) state.add_in_sync(node);
  state.set_collection_revision(collection_revision);
  return state;
}

absl::StatusOr<adanns::v1::ShardMapRecord> ParseShardMap(absl::string_view key,
                                                         absl::string_view bytes) {
  adanns::v1::ShardMapRecord record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InternalError(absl::StrCat("etcd key ", key, ": not a shard map record"));
  }
  if (record.shards_size() == 0) {
    return absl::InternalError(absl::StrCat("etcd key ", key, ": shard map without shards"));
  }
  for (int shard = 0; shard < record.shards_size(); ++shard) {
    if (record.shards(shard).shard() != static_cast<uint32_t>(shard) ||
        record.shards(shard).node_id().empty()) {
      return absl::InternalError(
          absl::StrCat("etcd key ", key, ": shard ", shard, " missing or out of order"));
    }
  }
  return record;
}

}  // namespace adanns::cluster
