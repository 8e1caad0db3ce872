// adanns.v1.Adanns served by a router: the same API-key roles, metrics and streaming Upsert as a
// standalone server, each call handed to the Router.
#pragma once

#include <memory>

#include "adanns/v1/adanns.grpc.pb.h"
#include "server/call_gate.h"
#include "server/router.h"
#include "server/worker_pool.h"

namespace adanns::server {

class RouterService final : public v1::Adanns::WithRawCallbackMethod_Upsert<v1::Adanns::Service> {
 public:
  RouterService(Router* router, Metrics* metrics, std::shared_ptr<const ApiKeys> api_keys);

  grpc::Status CreateCollection(grpc::ServerContext* context,
                                const v1::CreateCollectionRequest* request,
                                v1::CollectionInfo* response) override;
  grpc::Status DescribeCollection(grpc::ServerContext* context,
                                  const v1::DescribeCollectionRequest* request,
                                  v1::CollectionInfo* response) override;
  grpc::Status ListCollections(grpc::ServerContext* context,
                               const v1::ListCollectionsRequest* request,
                               v1::ListCollectionsResponse* response) override;
  grpc::Status DropCollection(grpc::ServerContext* context,
                              const v1::DropCollectionRequest* request,
                              v1::DropCollectionResponse* response) override;
  grpc::Status UpdateCollection(grpc::ServerContext* context,
                                const v1::UpdateCollectionRequest* request,
                                v1::CollectionInfo* response) override;
  grpc::ServerReadReactor<grpc::ByteBuffer>* Upsert(grpc::CallbackServerContext* context,
                                                    grpc::ByteBuffer* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::GetRequest* request,
                   v1::GetResponse* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                      v1::DeleteResponse* response) override;
  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override;
  grpc::Status SearchBatch(grpc::ServerContext* context, const v1::SearchBatchRequest* request,
                           v1::SearchBatchResponse* response) override;
  grpc::Status BuildIndex(grpc::ServerContext* context, const v1::BuildIndexRequest* request,
                          v1::BuildIndexResponse* response) override;
  grpc::Status DropIndex(grpc::ServerContext* context, const v1::DropIndexRequest* request,
                         v1::DropIndexResponse* response) override;
  grpc::Status Calibrate(grpc::ServerContext* context, const v1::CalibrateRequest* request,
                         v1::CalibrationInfo* response) override;
  grpc::Status CreateSnapshot(grpc::ServerContext* context,
                              const v1::CreateSnapshotRequest* request,
                              v1::SnapshotInfo* response) override;
  grpc::Status ListSnapshots(grpc::ServerContext* context, const v1::ListSnapshotsRequest* request,
                             v1::ListSnapshotsResponse* response) override;
  grpc::Status MoveShard(grpc::ServerContext* context, const v1::MoveShardRequest* request,
                         v1::MoveShardResponse* response) override;

 private:
  // The client's deadline, or the router's default when it set none.
  Router::Deadline DeadlineOf(const grpc::ServerContextBase& context) const;

  Router* const router_;
  Metrics* const metrics_;
  CallGate gate_;
  // Runs Upsert streams' messages; declared last so it is joined first.
  std::unique_ptr<WorkerPool> upsert_pool_;
};

}  // namespace adanns::server
