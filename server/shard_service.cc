#include "server/shard_service.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/cluster_key.h"
#include "server/grpc_status.h"
#include "server/snapshots.h"
#include "server/validation.h"

namespace adanns::server {
namespace {

// Runs `handle(shard)` on the hosted shard that `collection` and `shard` name.
template <typename Handle>
grpc::Status OnShard(ShardHost* host, const std::string& collection, uint32_t shard,
                     Handle&& handle) {
  absl::StatusOr<std::shared_ptr<HostedShard>> hosted = host->Find(collection, shard);
  if (!hosted.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(hosted.status().code()),
                        std::string(hosted.status().message()), kShardNotHeldDetail);
  }
  return ToGrpc(handle(**hosted));
}

// A client write on a shard: admitted by replication (this node must be the primary of a
// replicated shard), committed locally by `write`, then acknowledged only once the in-sync
// followers have it.
template <typename Write>
absl::Status WriteReplicated(ReplicationManager* replication, bool replicated_writes,
                             HostedShard& shard, Write&& write) {
  if (replication == nullptr) {
    if (!replicated_writes) return write();
    return absl::UnavailableError("this data node is joining or leaving the cluster; retry");
  }
  RETURN_IF_ERROR(replication->AdmitWrite(shard.collection(), shard.shard()));
  RETURN_IF_ERROR(write());
  return replication->AwaitReplicated(shard.collection(), shard.shard(),
                                      shard.engine().store().LatestSequence());
}

ShardShareCap ShareCapOf(const v1::ShardSearchLimits& limits) {
  return ShardShareCap{limits.max_mflops(), limits.cluster_max_mflops(), limits.clamp()};
}

}  // namespace

grpc::Status ShardServiceImpl::CreateShard(grpc::ServerContext* context,
                                           const v1::CreateShardRequest* request,
                                           v1::CollectionInfo* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  absl::StatusOr<std::shared_ptr<HostedShard>> hosted =
      host_->Create(request->spec(), request->shard());
  if (!hosted.ok()) return ToGrpc(hosted.status());
  if (ReplicationManager* replication = replication_.load()) replication->Wake();
  return ToGrpc((*hosted)->service().DoDescribeCollection(request->spec().name(), response));
}

grpc::Status ShardServiceImpl::DropShard(grpc::ServerContext* context,
                                         const v1::ShardRequest* request,
                                         v1::DropCollectionResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  absl::StatusOr<uint64_t> dropped = host_->Drop(request->collection(), request->shard());
  if (!dropped.ok()) return ToGrpc(dropped.status());
  response->set_dropped_vectors(*dropped);
  return grpc::Status::OK;
}

grpc::Status ShardServiceImpl::DescribeShard(grpc::ServerContext* context,
                                             const v1::ShardRequest* request,
                                             v1::CollectionInfo* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->collection(), request->shard(), [&](HostedShard& shard) {
    return shard.service().DoDescribeCollection(request->collection(), response);
  });
}

grpc::Status ShardServiceImpl::UpdateShard(grpc::ServerContext* context,
                                           const v1::ShardUpdateRequest* request,
                                           v1::CollectionInfo* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().name(), request->shard(), [&](HostedShard& shard) {
    return shard.service().DoUpdateCollection(request->request(), response);
  });
}

grpc::Status ShardServiceImpl::Upsert(grpc::ServerContext* context,
                                      const v1::ShardUpsertRequest* request,
                                      v1::UpsertResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    return WriteReplicated(replication_.load(), replicated_writes_, shard, [&] {
      return shard.service().DoUpsertOne(request->request(), response);
    });
  });
}

grpc::Status ShardServiceImpl::Get(grpc::ServerContext* context, const v1::ShardGetRequest* request,
                                   v1::GetResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    return shard.service().DoGet(request->request(), response);
  });
}

grpc::Status ShardServiceImpl::Delete(grpc::ServerContext* context,
                                      const v1::ShardDeleteRequest* request,
                                      v1::DeleteResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    return WriteReplicated(replication_.load(), replicated_writes_, shard,
                           [&] { return shard.service().DoDelete(request->request(), response); });
  });
}

grpc::Status ShardServiceImpl::Search(grpc::ServerContext* context,
                                      const v1::ShardSearchRequest* request,
                                      v1::SearchResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    const ShardShareCap cap = ShareCapOf(request->limits());
    return shard.service().DoSearch(request->request(), response, &cap);
  });
}

grpc::Status ShardServiceImpl::SearchBatch(grpc::ServerContext* context,
                                           const v1::ShardSearchBatchRequest* request,
                                           v1::SearchBatchResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    const ShardShareCap cap = ShareCapOf(request->limits());
    return shard.service().DoSearchBatch(
        request->request(), response, [context] { return context->IsCancelled(); }, &cap);
  });
}

grpc::Status ShardServiceImpl::BuildIndex(grpc::ServerContext* context,
                                          const v1::ShardBuildIndexRequest* request,
                                          v1::BuildIndexResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    return shard.service().DoBuildIndex(request->request(), response);
  });
}

grpc::Status ShardServiceImpl::DropIndex(grpc::ServerContext* context,
                                         const v1::ShardDropIndexRequest* request,
                                         v1::DropIndexResponse*) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    return shard.service().DoDropIndex(request->request());
  });
}

grpc::Status ShardServiceImpl::Calibrate(grpc::ServerContext* context,
                                         const v1::ShardCalibrateRequest* request,
                                         v1::CalibrationInfo* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  return OnShard(host_, request->request().collection(), request->shard(), [&](HostedShard& shard) {
    return shard.service().DoCalibrate(request->request(), response);
  });
}

grpc::Status ShardServiceImpl::SampleVectors(grpc::ServerContext* context,
                                             const v1::ShardSampleRequest* request,
                                             v1::GetResponse* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  if (request->count() == 0 || request->count() > kMaxBatchQueries) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("count must be in 1..", kMaxBatchQueries, ", got ", request->count()));
  }
  return OnShard(host_, request->collection(), request->shard(), [&](HostedShard& shard) {
    ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection,
                     shard.engine().Find(request->collection()));
    v1::GetRequest get;
    get.set_collection(request->collection());
    for (uint64_t id : collection->SampleIds(request->count(), request->seed())) get.add_ids(id);
    return shard.service().DoGet(get, response);
  });
}

grpc::Status ShardServiceImpl::SnapshotShard(grpc::ServerContext* context,
                                             const v1::ShardSnapshotRequest* request,
                                             v1::ShardSnapshotInfo* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  const std::string& collection = request->map().spec().name();
  return OnShard(host_, collection, request->shard(), [&](HostedShard& shard) -> absl::Status {
    ASSIGN_OR_RETURN(const SnapshotInfo info,
                     server::SnapshotShard(snapshot_root_, request->name(), shard.engine().store(),
                                           request->map(), request->shard()));
    response->set_collection(collection);
    response->set_shard(request->shard());
    response->set_path(info.path);
    response->set_bytes(info.bytes);
    return absl::OkStatus();
  });
}

grpc::Status ShardServiceImpl::Replicate(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ReplicateBatch, v1::ReplicateRequest>* stream) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  ReplicationManager* replication = replication_.load();
  if (replication == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this node is still joining the cluster");
  }
  return replication->ServeFollower(context, stream);
}

grpc::Status ShardServiceImpl::ReplicaPosition(grpc::ServerContext* context,
                                               const v1::ShardRequest* request,
                                               v1::WritePosition* response) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  ReplicationManager* replication = replication_.load();
  if (replication == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this node is still joining the cluster");
  }
  absl::StatusOr<v1::WritePosition> position =
      replication->Position(request->collection(), request->shard());
  if (!position.ok()) return ToGrpc(position.status());
  *response = *position;
  return grpc::Status::OK;
}

grpc::Status ShardServiceImpl::CopyShard(grpc::ServerContext* context,
                                         const v1::ShardCopyRequest* request,
                                         grpc::ServerWriter<v1::ShardCopyChunk>* writer) {
  if (grpc::Status denied = CheckClusterKey(*context, cluster_key_); !denied.ok()) return denied;
  ReplicationManager* replication = replication_.load();
  if (replication == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this node is still joining the cluster");
  }
  return replication->ServeCopy(context, request, writer);
}

}  // namespace adanns::server
