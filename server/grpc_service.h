// The adanns.v1.Adanns gRPC service: validates each request, calls the engine, converts results,
// and records metrics. No business logic lives here beyond validation and conversion.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "adanns/v1/adanns.grpc.pb.h"
#include "server/auth.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/snapshots.h"

namespace adanns::server {

struct ServiceOptions {
  // Threads one SearchBatch may use.
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
};

class AdannsService final : public v1::Adanns::Service {
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
  grpc::Status Upsert(grpc::ServerContext* context, grpc::ServerReader<v1::UpsertRequest>* reader,
                      v1::UpsertResponse* response) override;
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

 private:
  absl::Status DoCreateCollection(const v1::CreateCollectionRequest& request,
                                  v1::CollectionInfo* response);
  absl::Status DoDescribeCollection(const std::string& name, v1::CollectionInfo* response);
  absl::Status DoDropCollection(const std::string& name, v1::DropCollectionResponse* response);
  absl::Status DoUpdateCollection(const v1::UpdateCollectionRequest& request,
                                  v1::CollectionInfo* response);
  absl::Status DoUpsert(grpc::ServerReader<v1::UpsertRequest>* reader,
                        v1::UpsertResponse* response);
  absl::Status DoGet(const v1::GetRequest& request, v1::GetResponse* response);
  absl::Status DoDelete(const v1::DeleteRequest& request, v1::DeleteResponse* response);
  absl::Status DoSearch(const v1::SearchRequest& request, v1::SearchResponse* response);
  absl::Status DoSearchBatch(const v1::SearchBatchRequest& request,
                             v1::SearchBatchResponse* response,
                             const std::function<bool()>& abandoned);
  absl::Status DoBuildIndex(const v1::BuildIndexRequest& request, v1::BuildIndexResponse* response);
  absl::Status DoDropIndex(const v1::DropIndexRequest& request);
  absl::Status DoCalibrate(const v1::CalibrateRequest& request, v1::CalibrationInfo* response);
  // Collection::Search, with its budget and limit metrics.
  absl::StatusOr<SearchOutcome> RunSearch(const Collection& collection,
                                          std::span<const float> queries, uint32_t query_dims,
                                          size_t n, uint32_t k, const index::Budget& budget,
                                          SearchDevice device, size_t threads,
                                          const std::function<bool()>& abandoned = nullptr);

  // Runs `call` when the caller's API key allows `role` (keys on), records the request in
  // metrics and maps the status to gRPC.
  grpc::Status Finish(const char* method, std::chrono::steady_clock::time_point start,
                      const grpc::ServerContext& context, Role role,
                      const std::function<absl::Status()>& call);
  void UpdateVectorGauge(const Collection& collection);

  Engine* engine_;
  Metrics* metrics_;
  ServiceOptions options_;
  Snapshots snapshots_;
};

}  // namespace adanns::server
