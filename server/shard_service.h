// adanns.v1.ShardService, the data node's internal service: finds the named shard and hands the
// wrapped public request to that shard's AdannsService, so every shard behaves as a standalone
// collection (same validation, statuses, plans and cost accounting).
#pragma once

#include <atomic>
#include <string>

#include "adanns/v1/cluster.grpc.pb.h"
#include "server/replication.h"
#include "server/shard_host.h"

namespace adanns::server {

class ShardServiceImpl final : public v1::ShardService::Service {
 public:
  // `cluster_key`: what every call must carry (server/cluster_key.h); empty = nothing.
  // `snapshot_root`: the node's --snapshot_dir (empty: snapshots disabled).
  // `replicated_writes`: ServerOptions::replicated_writes.
  ShardServiceImpl(ShardHost* host, std::string cluster_key, std::string snapshot_root,
                   bool replicated_writes = false)
      : host_(host),
        cluster_key_(std::move(cluster_key)),
        snapshot_root_(std::move(snapshot_root)),
        replicated_writes_(replicated_writes) {}

  grpc::Status CreateShard(grpc::ServerContext* context, const v1::CreateShardRequest* request,
                           v1::CollectionInfo* response) override;
  grpc::Status DropShard(grpc::ServerContext* context, const v1::ShardRequest* request,
                         v1::DropCollectionResponse* response) override;
  grpc::Status DescribeShard(grpc::ServerContext* context, const v1::ShardRequest* request,
                             v1::CollectionInfo* response) override;
  grpc::Status UpdateShard(grpc::ServerContext* context, const v1::ShardUpdateRequest* request,
                           v1::CollectionInfo* response) override;
  grpc::Status Upsert(grpc::ServerContext* context, const v1::ShardUpsertRequest* request,
                      v1::UpsertResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::ShardGetRequest* request,
                   v1::GetResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::ShardDeleteRequest* request,
                      v1::DeleteResponse* response) override;
  grpc::Status Search(grpc::ServerContext* context, const v1::ShardSearchRequest* request,
                      v1::SearchResponse* response) override;
  grpc::Status SearchBatch(grpc::ServerContext* context, const v1::ShardSearchBatchRequest* request,
                           v1::SearchBatchResponse* response) override;
  grpc::Status BuildIndex(grpc::ServerContext* context, const v1::ShardBuildIndexRequest* request,
                          v1::BuildIndexResponse* response) override;
  grpc::Status DropIndex(grpc::ServerContext* context, const v1::ShardDropIndexRequest* request,
                         v1::DropIndexResponse* response) override;
  grpc::Status Calibrate(grpc::ServerContext* context, const v1::ShardCalibrateRequest* request,
                         v1::CalibrationInfo* response) override;
  grpc::Status SampleVectors(grpc::ServerContext* context, const v1::ShardSampleRequest* request,
                             v1::GetResponse* response) override;
  grpc::Status SnapshotShard(grpc::ServerContext* context, const v1::ShardSnapshotRequest* request,
                             v1::ShardSnapshotInfo* response) override;
  grpc::Status Replicate(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ReplicateBatch, v1::ReplicateRequest>* stream) override;
  grpc::Status ReplicaPosition(grpc::ServerContext* context, const v1::ShardRequest* request,
                               v1::WritePosition* response) override;
  grpc::Status CopyShard(grpc::ServerContext* context, const v1::ShardCopyRequest* request,
                         grpc::ServerWriter<v1::ShardCopyChunk>* writer) override;

  // Replicated shards (set once the node knows its id, before it registers; `manager` outlives
  // this service's calls). Until then every shard is served unreplicated.
  void SetReplication(ReplicationManager* manager) { replication_.store(manager); }

 private:
  ShardHost* const host_;
  const std::string cluster_key_;
  const std::string snapshot_root_;
  const bool replicated_writes_;
  std::atomic<ReplicationManager*> replication_{nullptr};
};

}  // namespace adanns::server
