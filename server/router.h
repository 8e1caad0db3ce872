// The router of a cluster: serves the public API by routing each request to the data nodes that
// hold the collection's shards (adanns.v1.ShardService) and merging their answers. Stateless: the
// live nodes and the shard maps are watched in etcd; nothing is stored here, so routers can be
// added, restarted or replaced at will. Sharding follows Elasticsearch, Milvus and Qdrant: a fixed
// shard count per collection, one independent index per shard, the full k asked of every shard,
// and the answers merged by exact score (approximate scores are not comparable across shards).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adanns/v1/cluster.grpc.pb.h"
#include "cluster/etcd_client.h"
#include "cluster/etcd_watch.h"
#include "cluster/shard_map.h"
#include "server/router_reads.h"
#include "server/shard_channel.h"

namespace adanns::server {

struct RouterOptions {
  // Endpoints and credentials of etcd.
  cluster::EtcdOptions etcd;
  // Cluster name (etcd key prefix).
  std::string cluster = "adanns";
  // Shards of a collection created without `shards`.
  // Default: 4.
  uint32_t default_shards = 4;
  // Copies of every shard of a collection created without `replicas` (server/replication.h).
  // Default: 1.
  uint32_t default_replicas = 1;
  // Deadline of a call to a shard when the client's call has none.
  // Default: 30 s.
  absl::Duration shard_deadline = absl::Seconds(30);
  // Largest message sent to or received from a data node.
  // Default: 64 MiB.
  int max_message_bytes = 64 << 20;
  // Sent on every call to a data node (server/cluster_key.h); empty = none.
  std::string cluster_key;
  // Hard cap on the MFLOPs one query may spend over all shards (split by shard sizes); 0 = none.
  double max_query_mflops = 0;
  // A request over it: lowered to it (true) or RESOURCE_EXHAUSTED.
  bool clamp_over_limit = false;
  // How data nodes are dialled: TLS (cluster/tls_credentials.h) for nodes serving with --tls_cert.
  // Default: null (plaintext).
  std::shared_ptr<grpc::ChannelCredentials> shard_credentials;
  // When a search's shard call is also sent to another in-sync copy (server/router_reads.h).
  HedgePolicy hedging;
  // Where the router's own counters go (hedges, retries); must outlive the router.
  // Default: null (none).
  Metrics* metrics = nullptr;
};

class Router {
 public:
  // Starts following the cluster's nodes and collections in etcd. Does not wait for etcd: until
  // it answers, calls fail with UNAVAILABLE naming it (and the watches keep retrying).
  static absl::StatusOr<std::unique_ptr<Router>> Start(RouterOptions options);

  // Each mirrors the standalone service's handler: same validation and statuses. `deadline` is
  // the client's (or now + shard_deadline).
  using Deadline = std::chrono::system_clock::time_point;
  absl::Status CreateCollection(const v1::CreateCollectionRequest& request,
                                v1::CollectionInfo* response, Deadline deadline);
  absl::Status DescribeCollection(const std::string& name, v1::CollectionInfo* response,
                                  Deadline deadline);
  absl::Status ListCollections(v1::ListCollectionsResponse* response, Deadline deadline);
  absl::Status DropCollection(const std::string& name, v1::DropCollectionResponse* response,
                              Deadline deadline);
  absl::Status UpdateCollection(const v1::UpdateCollectionRequest& request,
                                v1::CollectionInfo* response, Deadline deadline);
  // One message of an Upsert stream: validated whole, split by shard, acknowledged when every
  // shard has synced its part. Not atomic across shards: when a shard fails, the error names the
  // shards whose parts were committed.
  absl::Status UpsertMessage(const v1::UpsertRequest& message, uint64_t* committed,
                             Deadline deadline);
  absl::Status Get(const v1::GetRequest& request, v1::GetResponse* response, Deadline deadline);
  absl::Status Delete(const v1::DeleteRequest& request, v1::DeleteResponse* response,
                      Deadline deadline);
  absl::Status Search(const v1::SearchRequest& request, v1::SearchResponse* response,
                      Deadline deadline);
  absl::Status SearchBatch(const v1::SearchBatchRequest& request, v1::SearchBatchResponse* response,
                           Deadline deadline);
  absl::Status BuildIndex(const v1::BuildIndexRequest& request, v1::BuildIndexResponse* response,
                          Deadline deadline);
  absl::Status DropIndex(const v1::DropIndexRequest& request, Deadline deadline);
  absl::Status Calibrate(const v1::CalibrateRequest& request, v1::CalibrationInfo* response,
                         Deadline deadline);
  // A cluster snapshot (router_snapshots.cc): a checkpoint of every shard of every collection on
  // its node, each consistent on its own (not one moment across shards), recorded in etcd under
  // /<cluster>/snapshots/<name> once all were taken.
  absl::Status CreateSnapshot(const v1::CreateSnapshotRequest& request, v1::SnapshotInfo* response,
                              Deadline deadline);
  absl::Status ListSnapshots(v1::ListSnapshotsResponse* response);
  // Moves one copy of a shard to another data node (router_moves.cc; adanns.proto has the
  // contract).
  absl::Status MoveShard(const v1::MoveShardRequest& request, v1::MoveShardResponse* response,
                         Deadline deadline);

  Deadline DefaultDeadline() const;

  // Cancels the merged calibrations running here (before the watches and stubs go).
  ~Router();

  // Where a collection's shards are: its record and, per shard, the stub of its node (null when
  // the node is not live).
  struct Route {
    v1::ShardMapRecord record;
    std::vector<std::string> node_ids;
    std::vector<std::shared_ptr<v1::ShardService::Stub>> stubs;
    // etcd's create revision of the record: tells a collection from one re-created under its name.
    int64_t created_revision = 0;
    // Every copy of every shard (replicated collections have several): per shard, the current
    // primary first, then the other copies in placement order; stubs null for nodes not live.
    std::vector<std::vector<std::string>> copy_ids;
    std::vector<std::vector<std::shared_ptr<v1::ShardService::Stub>>> copy_stubs;
    // Per shard, its state (epoch 0: not replicated).
    std::vector<v1::ShardStateRecord> states;
    uint32_t shard_count() const { return static_cast<uint32_t>(node_ids.size()); }
    // The most copies a shard has (a shard being moved has one more than the others).
    uint32_t copies() const;
    // The route with copy `c` of every shard in node_ids and stubs (0: the primaries); a shard
    // with fewer copies gets an empty node id and no stub (calls skip it: ShardCall).
    Route OnCopy(size_t c) const;
    // A live in-sync copy of `shard` other than the one routed to; null when none.
    std::shared_ptr<v1::ShardService::Stub> OtherInSyncCopy(size_t shard) const;
    // A read of every shard: the copy routed to, backed by another in-sync copy.
    std::vector<ShardReadPlan> ReadPlans() const;
  };
  // Which copy of each shard a request goes to: writes and collection-level calls to the primary,
  // reads to an in-sync copy (round-robin, or pinned by a session key).
  enum class Pick { kPrimary, kInSyncCopy };

  // One shard's part of a search's budget and limits.
  struct ShardShare {
    v1::Budget budget;             // the request's, a max_mflops cap split by shard size
    v1::ShardSearchLimits limits;  // the router's --max_query_mflops, split alike
  };

  // What a target_recall means on a collection with a merged calibration
  // (router_calibration.cc): the target asked of every shard and the merged estimate.
  struct MergedTarget {
    double shard_target = 0;
    v1::RecallEstimate estimate;
    bool met = false;  // the estimate's lower bound reached the request's target
  };

 private:
  Router(RouterOptions options, cluster::ClusterKeys keys,
         std::unique_ptr<cluster::EtcdClient> etcd);

  // A shard's map and state records read from etcd (not the watches: a move compares on them).
  struct ShardRecords;
  absl::StatusOr<ShardRecords> ReadShardRecords(const std::string& collection,
                                                uint32_t shard) const;
  // Writes both records when neither changed since `read`; false when one did.
  absl::StatusOr<bool> WriteShardRecords(const ShardRecords& read, const v1::ShardMapRecord& map,
                                         const v1::ShardStateRecord& state);

  // NOT_FOUND (the standalone message) when absent; UNAVAILABLE until etcd has been listed.
  // With kInSyncCopy, a non-empty `session_key` picks each shard's copy (SessionCopy over its live
  // in-sync copies, sorted) instead of the next in turn.
  absl::StatusOr<Route> Resolve(const std::string& name, Pick pick = Pick::kPrimary,
                                const std::string& session_key = "") const;
  // The same request to every copy of every shard (calls that change a shard's derived state or
  // settings: each copy holds its own); the first failure wins, the primaries' replies are kept.
  template <typename Call>
  absl::Status OnEveryCopy(const Route& route, Call&& call);
  // Node id -> address of the live data nodes.
  std::map<std::string, std::string> LiveNodes() const;
  // Shard sizes for splitting an MFLOPs cap, refreshed at most every few seconds; all zero (an
  // even split) while some shard's is unknown.
  std::vector<uint64_t> ShardSizes(const std::string& name, const Route& route, Deadline deadline);

  // Each shard's share of a search of `collection`; RESOURCE_EXHAUSTED when the request's
  // max_mflops is over the router's cap (and clamping is off). `router_cap` false: the router's
  // --max_query_mflops is left out (the merged calibration's own searches).
  absl::StatusOr<std::vector<ShardShare>> ShareOut(const std::string& collection, v1::Budget budget,
                                                   const Route& route, Deadline deadline,
                                                   bool router_cap = true);

  // SearchBatch as the client asks it (`as_calibration` false), or as the merged calibration
  // measures it (true): a target_recall is asked of every shard as it is, and the router's
  // --max_query_mflops does not apply (a data node's own still does).
  absl::Status SearchBatchAt(const v1::SearchBatchRequest& request,
                             v1::SearchBatchResponse* response, Deadline deadline,
                             bool as_calibration);
  // A target_recall budget becomes the per-shard target of the merged calibration, when there is
  // one for this incarnation of the collection and the search reads full vectors (the curve was
  // measured at the full dim); the merged estimate is returned. Other budgets are left as they are.
  std::optional<MergedTarget> TranslateTarget(const Route& route, uint32_t k, uint32_t query_dims,
                                              v1::Budget* budget) const;

  // The merged calibration (router_calibration.cc): started by Calibrate once the shards accepted
  // theirs; it waits for them, measures merged recall over a ladder of per-shard targets against
  // exact global truth, and writes /<cluster>/calibration/<collection>.
  struct MergedJob;
  void StartMergedCalibration(const v1::CalibrateRequest& request, const Route& route);
  void CancelMergedCalibration(const std::string& name);
  void CancelAllMergedCalibrations();
  absl::Status AwaitShardCalibrations(const std::string& name, const MergedJob& job);
  absl::StatusOr<v1::MergedCalibrationRecord> MeasureMerged(const v1::CalibrateRequest& request,
                                                            MergedJob& job);
  // The collection's merged calibration when it was measured on this incarnation of it.
  std::optional<v1::MergedCalibrationRecord> MergedCalibrationOf(const Route& route) const;
  std::optional<MergedTarget> MergedTargetFor(const Route& route, uint32_t k, double target) const;
  // A running or failed merged calibration shows in `info` (a collection's calibration), a
  // finished one as "+merged" in its source.
  void ShowMergedCalibration(const Route& route, v1::CalibrationInfo* info) const;

  const RouterOptions options_;
  const cluster::ClusterKeys keys_;
  const std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::EtcdPrefixWatch> nodes_;
  std::unique_ptr<cluster::EtcdPrefixWatch> collections_;
  std::unique_ptr<cluster::EtcdPrefixWatch> calibrations_;
  std::unique_ptr<cluster::EtcdPrefixWatch> shard_states_;
  mutable std::atomic<uint64_t> read_turn_{0};  // round-robin over in-sync copies
  ShardReads reads_;                            // latency windows, hedges, retries

  // A cache of channels (one per data node address), filled as nodes are first routed to.
  mutable ShardStubs stubs_;
  struct Sizes {
    std::vector<uint64_t> counts;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex sizes_mutex_;
  std::map<std::string, Sizes> sizes_;
  mutable std::mutex jobs_mutex_;
  std::map<std::string, std::shared_ptr<MergedJob>> jobs_;  // by collection
  // Cancelled jobs not yet joined (joined once finished, or at destruction): a request never
  // waits for a job to stop.
  std::vector<std::shared_ptr<MergedJob>> retired_;
};

}  // namespace adanns::server
