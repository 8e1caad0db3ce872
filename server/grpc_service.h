// The adanns.v1.Adanns gRPC service: validates each request, calls the engine, converts results,
// and records metrics. No business logic lives here beyond validation and conversion.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "adanns/v1/adanns.grpc.pb.h"
#include "server/auth.h"
#include "server/call_gate.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/recall_checker.h"
#include "server/snapshots.h"
#include "server/upsert_stream.h"
#include "server/worker_pool.h"

namespace adanns::server {

struct ServiceOptions {
  // Workers shared by every SearchBatch (its queries are split over them; concurrent batches
  // queue for the same workers). A single Search runs on its gRPC thread.
  // Default: 1.
  size_t search_threads = 1;
  // API keys every call must carry; null = no authentication (loopback development).
  // Default: null.
  std::shared_ptr<const ApiKeys> api_keys;
  // Root directory of CreateSnapshot's snapshots; empty disables them.
  // Default: disabled.
  std::string snapshot_root;
  // Upserts are refused (RESOURCE_EXHAUSTED) while the process's resident memory is above this
  // many bytes; searches and deletes go on. 0 = no limit.
  // Default: 0.
  uint64_t max_resident_bytes = 0;
  // Workers that commit Upsert streams' messages (one message of a stream at a time; streams
  // beyond this many wait their turn).
  // Default: 4.
  size_t upsert_threads = 4;
  // Fraction of searched queries re-run exactly in the background (RecallChecker); 0 = none.
  // Default: 0.005.
  double recall_check_fraction = 0.005;
};

// Upsert is a raw callback method (upsert_stream.h); every other RPC uses the sync API.
class AdannsService final : public v1::Adanns::WithRawCallbackMethod_Search<
                                v1::Adanns::WithRawCallbackMethod_Upsert<v1::Adanns::Service>> {
 public:
  AdannsService(Engine* engine, Metrics* metrics, ServiceOptions options);

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
  // On the raw callback API, run where the request arrived (see the .cc).
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
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
  // FAILED_PRECONDITION: shards move between the data nodes of a cluster.
  grpc::Status MoveShard(grpc::ServerContext* context, const v1::MoveShardRequest* request,
                         v1::MoveShardResponse* response) override;

  // The request handling without the transport: validation, the engine call, conversion. The
  // RPCs above wrap these; a data node's ShardService calls them on the service of one shard.
  absl::Status DoCreateCollection(const v1::CreateCollectionRequest& request,
                                  v1::CollectionInfo* response);
  absl::Status DoDescribeCollection(const std::string& name, v1::CollectionInfo* response);
  absl::Status DoDropCollection(const std::string& name, v1::DropCollectionResponse* response);
  absl::Status DoUpdateCollection(const v1::UpdateCollectionRequest& request,
                                  v1::CollectionInfo* response);
  // One message as its own call: committed, then waited for until searches see it.
  absl::Status DoUpsertOne(const v1::UpsertRequest& message, v1::UpsertResponse* response);
  absl::Status DoGet(const v1::GetRequest& request, v1::GetResponse* response);
  absl::Status DoDelete(const v1::DeleteRequest& request, v1::DeleteResponse* response);
  // `shard_cap`: a router's cap on this shard's part (data nodes); null otherwise.
  absl::Status DoSearch(const v1::SearchRequest& request, v1::SearchResponse* response,
                        const ShardShareCap* shard_cap = nullptr);
  absl::Status DoSearchBatch(const v1::SearchBatchRequest& request,
                             v1::SearchBatchResponse* response,
                             const std::function<bool()>& abandoned,
                             const ShardShareCap* shard_cap = nullptr);
  absl::Status DoBuildIndex(const v1::BuildIndexRequest& request, v1::BuildIndexResponse* response);
  absl::Status DoDropIndex(const v1::DropIndexRequest& request);
  absl::Status DoCalibrate(const v1::CalibrateRequest& request, v1::CalibrationInfo* response);

 private:
  // Collection::Search, with its budget and limit metrics.
  absl::StatusOr<SearchOutcome> RunSearch(const std::shared_ptr<Collection>& collection,
                                          std::span<const float> queries, uint32_t query_dims,
                                          size_t n, uint32_t k, const index::Budget& budget,
                                          SearchDevice device, WorkerPool* pool,
                                          const std::function<bool()>& abandoned = nullptr,
                                          const ShardShareCap* shard_cap = nullptr);
  // Validates and commits one message of an Upsert stream.
  absl::Status UpsertMessage(std::shared_ptr<const v1::UpsertRequest> message,
                             UpsertProgress& progress);
  // OK when API keys are off or the caller's key allows `role`.
  absl::Status Authorize(const grpc::ServerContextBase& context, Role role) const;
  // Runs `call` when Authorize allows it, records the request in metrics and maps the status to
  // gRPC.
  grpc::Status Finish(const char* method, std::chrono::steady_clock::time_point start,
                      const grpc::ServerContextBase& context, Role role,
                      const std::function<absl::Status()>& call);
  void UpdateVectorGauge(const Collection& collection);

  Engine* engine_;
  Metrics* metrics_;
  ServiceOptions options_;
  CallGate gate_;
  Snapshots snapshots_;
  std::unique_ptr<WorkerPool> search_pool_;  // options_.search_threads workers
  std::unique_ptr<RecallChecker> recall_checker_;
  // Runs Upsert streams' messages; declared last so it is joined first, while the rest is alive.
  std::unique_ptr<WorkerPool> upsert_pool_;
};

}  // namespace adanns::server
