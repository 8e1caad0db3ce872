// Replicated shards on a data node: primary-backup over the RocksDB WAL with an in-sync set kept in
// etcd (the PacificA / Elasticsearch model; etcd is the only consensus).
//
// - The shard's state record (/<cluster>/shards/<collection>/<shard>, cluster/shard_map.h) names
//   the epoch, the primary and the in-sync set. Only the primary changes the in-sync set, and only
//   the failover controller changes the primary (epoch + 1), each by an etcd transaction on the
//   record's mod revision, so a primary that was replaced can no longer change anything.
// - The primary commits a client write as a standalone server does (one synced WriteBatch, tagged
//   with its epoch: storage/replication_log.h), then waits until every other in-sync member has
//   applied it durably and searchably. A member that misses the deadline is removed from the
//   in-sync set before the write is acknowledged; when that removal fails (the record moved on:
//   a new primary) or would leave fewer than min_in_sync members, the write fails UNAVAILABLE.
//   Writes are refused up front while the set is below min_in_sync.
// - Followers open a Replicate stream to the primary at their position and apply its WAL records
//   in order (replication_follower.cc); the primary serves it (replication_source.cc) and adds a
//   follower that caught up to the live end of its WAL back into the in-sync set.
// - Failover (failover_controller.cc): the data node holding the controller key (an etcd lease)
//   promotes, for a shard whose primary's lease expired, the live in-sync follower with the
//   highest applied position, with epoch + 1.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adanns/v1/cluster.grpc.pb.h"
#include "cluster/etcd_client.h"
#include "cluster/etcd_watch.h"
#include "cluster/shard_map.h"
#include "server/metrics.h"
#include "server/shard_channel.h"
#include "server/shard_host.h"

namespace adanns::server {

struct ReplicationOptions {
  cluster::EtcdOptions etcd;
  std::string cluster = "adanns";
  // This data node's id and its etcd lease TTL (the controller key uses the same TTL).
  std::string node_id;
  absl::Duration lease_ttl = absl::Seconds(5);
  // How long a primary waits for an in-sync follower to apply a write before removing it from
  // the in-sync set (--replication_ack_timeout_ms). Shorter than the lease: a dead follower costs
  // writes this much once, and a slow one on two loaded cores must not be dropped for a hiccup.
  // Default: 2 s.
  absl::Duration ack_timeout = absl::Seconds(2);
  // Dialling other data nodes: credentials (null: plaintext), the cluster key, message size.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string cluster_key;
  int max_message_bytes = 64 << 20;
};

class ReplicationManager {
 public:
  // Starts following the cluster's shard maps, shard states and nodes in etcd, and the follower
  // and controller threads. `host` and `metrics` must outlive the manager.
  static absl::StatusOr<std::unique_ptr<ReplicationManager>> Start(ReplicationOptions options,
                                                                   ShardHost* host,
                                                                   Metrics* metrics);
  // Stops and joins every thread (Stop first).
  ~ReplicationManager();
  // Ends the streams this node serves and follows (within a fraction of a second) without
  // joining: the server stops before its gRPC server waits for in-flight calls.
  void Stop();
  ReplicationManager(const ReplicationManager&) = delete;
  ReplicationManager& operator=(const ReplicationManager&) = delete;

  // The write path of ShardService.Upsert/Delete. Before the local commit: OK for a shard that is
  // not replicated; UNAVAILABLE when this node is not its primary (naming the primary) or its
  // in-sync set is below min_in_sync. After the commit: waits until the in-sync followers have
  // applied through `seq` (the store's sequence after the commit), as the header describes.
  absl::Status AdmitWrite(const std::string& collection, uint32_t shard);
  absl::Status AwaitReplicated(const std::string& collection, uint32_t shard, uint64_t seq);

  // Serves one follower's Replicate stream (replication_source.cc).
  grpc::Status ServeFollower(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ReplicateBatch, v1::ReplicateRequest>* stream);
  // Serves a follower's full copy (replication_copy.cc).
  grpc::Status ServeCopy(grpc::ServerContext* context, const v1::ShardCopyRequest* request,
                         grpc::ServerWriter<v1::ShardCopyChunk>* writer);
  // This node's applied position of a shard it holds (the controller compares followers by it):
  // the last write it applied from a primary, or, on the primary, its own last write.
  absl::StatusOr<v1::WritePosition> Position(const std::string& collection, uint32_t shard);

  // A shard was created here: its group is set up now rather than at the next periodic round.
  void Wake();

  // Whether every replicated shard copy on this node is its primary or in its in-sync set (the
  // readiness of a data node: a rolling upgrade waits for this before taking the next node, so
  // a shard keeps min_in_sync copies). False until the records are listed; `lagging` (optional)
  // names a copy that is not.
  bool CopiesInSync(std::string* lagging = nullptr) const;

  // One replicated shard as this node sees it.
  struct Group;

 private:
  ReplicationManager(ReplicationOptions options, cluster::ClusterKeys keys,
                     std::unique_ptr<cluster::EtcdClient> etcd, ShardHost* host, Metrics* metrics);
  // Rebuilds the groups from the watched records: roles, epochs, follower threads.
  void Reconcile();
  void ReconcileLoop();
  std::shared_ptr<Group> FindGroup(const std::string& collection, uint32_t shard) const;
  // Writes `state` over the record last read at `mod_revision` (0: absent); false when it moved
  // on. Updates the group's copy on success.
  absl::StatusOr<bool> CompareAndSetState(Group& group, const v1::ShardStateRecord& state);
  // Removes `laggards` from the in-sync set (the group's membership lock held).
  absl::Status DropFromInSync(Group& group, const std::set<std::string>& laggards);
  // Adds a follower that caught up (replication_source.cc, under the membership lock).
  absl::Status AddToInSync(Group& group, const std::string& node);
  // The follower thread of a group (replication_follower.cc).
  void FollowLoop(std::shared_ptr<Group> group);
  // One stream from the primary; *needs_copy when the primary cannot resume this copy.
  absl::Status FollowOnce(Group& group, bool* needs_copy);
  // Replaces this copy with a full copy from the primary (replication_copy.cc).
  absl::Status CopyFromPrimary(Group& group);
  // The controller (failover_controller.cc).
  void ControllerLoop();
  void FailOverDeadPrimaries();
  std::string AddressOf(const std::string& node_id) const;

  const ReplicationOptions options_;
  const cluster::ClusterKeys keys_;
  const std::unique_ptr<cluster::EtcdClient> etcd_;
  ShardHost* const host_;
  Metrics* const metrics_;

  std::unique_ptr<cluster::EtcdPrefixWatch> maps_;
  std::unique_ptr<cluster::EtcdPrefixWatch> states_;
  std::unique_ptr<cluster::EtcdPrefixWatch> nodes_;

  std::mutex reconcile_mutex_;  // one Reconcile at a time
  mutable std::mutex mutex_;    // guards groups_
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<Group>> groups_;
  ShardStubs stubs_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wake_mutex_
  std::atomic<bool> stop_{false};
  std::thread reconciler_;
  std::thread controller_;
};

}  // namespace adanns::server
