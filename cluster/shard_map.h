// Where a cluster's data lives: the etcd key layout, the shard of an id, and the placement of a new
// collection's shards on the live data nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adanns/v1/cluster.pb.h"

namespace adanns::cluster {

// The keys of one cluster in etcd, all under "/<cluster>/":
//   nodes/<node_id>        NodeRecord of a live data node (under its lease)
//   collections/<name>     ShardMapRecord of a collection (written once, compare-and-swap)
//   shards/<name>/<shard>  ShardStateRecord of a replicated shard (absent: its initial state)
//   controller             node id of the data node running failover (under its lease)
class ClusterKeys {
 public:
  // INVALID_ARGUMENT unless `cluster` is 1-64 characters from [A-Za-z0-9_.-].
  static absl::StatusOr<ClusterKeys> Create(absl::string_view cluster);

  std::string NodesPrefix() const { return root_ + "nodes/"; }
  std::string Node(absl::string_view node_id) const { return NodesPrefix() + std::string(node_id); }
  std::string CollectionsPrefix() const { return root_ + "collections/"; }
  std::string Collection(absl::string_view name) const {
    return CollectionsPrefix() + std::string(name);
  }
  std::string ShardsPrefix() const { return root_ + "shards/"; }
  std::string ShardStates(absl::string_view collection) const {
    return ShardsPrefix() + std::string(collection) + "/";
  }
  std::string ShardState(absl::string_view collection, uint32_t shard) const {
    return ShardStates(collection) + std::to_string(shard);
  }
  std::string Controller() const { return root_ + "controller"; }
  std::string SnapshotsPrefix() const { return root_ + "snapshots/"; }
  std::string Snapshot(absl::string_view name) const {
    return SnapshotsPrefix() + std::string(name);
  }
  std::string CalibrationsPrefix() const { return root_ + "calibration/"; }
  std::string Calibration(absl::string_view name) const {
    return CalibrationsPrefix() + std::string(name);
  }

 private:
  explicit ClusterKeys(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// The shard of a vector id: splitmix64's output function applied to the id, modulo the shard
// count. The constants are fixed forever: changing them would move stored ids to other shards.
// (Elasticsearch, Milvus and Qdrant route the same way: a hash of the id, fixed shard count.)
uint64_t IdHash(uint64_t id);
// FNV-1a, 64-bit (offset basis and prime from the FNV specification): a hash of bytes that every
// process computes alike.
uint64_t Fnv1a64(absl::string_view bytes);
uint32_t ShardOfId(uint64_t id, uint32_t shard_count);

// The nodes of a new collection's shards: the live node ids sorted, shard s on node
// (start + s) mod n with start = FNV-1a-64(collection) mod n, so shards spread evenly and
// collections do not all start on the same node. Deterministic in its inputs (two routers
// computing it agree; etcd's compare-and-swap decides which one writes). FAILED_PRECONDITION when
// no node is live.
absl::StatusOr<std::vector<std::string>> PlaceShards(absl::string_view collection,
                                                     uint32_t shard_count,
                                                     std::vector<std::string> live_nodes);
// The same with `replicas` copies per shard on distinct nodes: copy r of shard s on node
// (start + s + r) mod n, so primaries spread like PlaceShards' nodes and each node holds about
// as many copies as any other. FAILED_PRECONDITION when fewer than `replicas` nodes are live.
absl::StatusOr<std::vector<std::vector<std::string>>> PlaceReplicas(
    absl::string_view collection, uint32_t shard_count, uint32_t replicas,
    std::vector<std::string> live_nodes);

// The record written for a new collection: shard_nodes[s] are shard s's copies, first primary
// first.
adanns::v1::ShardMapRecord MakeShardMap(const adanns::v1::CreateCollectionRequest& spec,
                                        const std::vector<std::vector<std::string>>& shard_nodes);

// The nodes holding copies of a shard (replicas, or node_id alone in an unreplicated record).
std::vector<std::string> ReplicaNodes(const adanns::v1::ShardAssignment& assignment);
// Copies a write must reach before it is acknowledged, at least: 2 when replicas >= 3, else 1.
uint32_t MinInSync(uint32_t replicas);

// A shard's state: its record when one exists for this incarnation of the collection (same
// create revision), else the initial one (epoch 1, the first replica primary, all in sync).
// INTERNAL (naming the key) for a record that does not parse.
absl::StatusOr<adanns::v1::ShardStateRecord> EffectiveShardState(
    absl::string_view key, const adanns::v1::ShardAssignment& assignment,
    int64_t collection_revision, const std::optional<std::string>& record_bytes);

// Parses a record read from etcd: INTERNAL (naming the key) when it is not a valid shard map
// (no shards, or shards out of order).
absl::StatusOr<adanns::v1::ShardMapRecord> ParseShardMap(absl::string_view key,
                                                         absl::string_view bytes);

}  // namespace adanns::cluster
