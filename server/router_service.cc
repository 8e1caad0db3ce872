#include "server/router_service.h"

#include "server/upsert_stream.h"

namespace adanns::server {
namespace {

using Clock = std::chrono::steady_clock;
// Upsert streams a router relays at once (each message waits on its shards' synced writes, not on
// the CPU); further streams wait their turn.
constexpr size_t kUpsertStreams = 8;

}  // namespace

RouterService::RouterService(Router* router, Metrics* metrics,
                             std::shared_ptr<const ApiKeys> api_keys)
    : router_(router),
      metrics_(metrics),
      gate_(std::move(api_keys), metrics),
      upsert_pool_(std::make_unique<WorkerPool>("adanns-rupsert", kUpsertStreams)) {}

Router::Deadline RouterService::DeadlineOf(const grpc::ServerContextBase& context) const {
  const Router::Deadline fallback = router_->DefaultDeadline();
  return std::min(context.deadline(), fallback);
}

grpc::Status RouterService::CreateCollection(grpc::ServerContext* context,
                                             const v1::CreateCollectionRequest* request,
                                             v1::CollectionInfo* response) {
  return gate_.Finish("CreateCollection", Clock::now(), *context, Role::kAdmin, [&] {
    return router_->CreateCollection(*request, response, DeadlineOf(*context));
  });
}

grpc::Status RouterService::DescribeCollection(grpc::ServerContext* context,
                                               const v1::DescribeCollectionRequest* request,
                                               v1::CollectionInfo* response) {
  return gate_.Finish("DescribeCollection", Clock::now(), *context, Role::kRead, [&] {
    return router_->DescribeCollection(request->name(), response, DeadlineOf(*context));
  });
}

grpc::Status RouterService::ListCollections(grpc::ServerContext* context,
                                            const v1::ListCollectionsRequest*,
                                            v1::ListCollectionsResponse* response) {
  return gate_.Finish("ListCollections", Clock::now(), *context, Role::kRead,
                      [&] { return router_->ListCollections(response, DeadlineOf(*context)); });
}

grpc::Status RouterService::DropCollection(grpc::ServerContext* context,
                                           const v1::DropCollectionRequest* request,
                                           v1::DropCollectionResponse* response) {
  return gate_.Finish("DropCollection", Clock::now(), *context, Role::kAdmin, [&] {
    return router_->DropCollection(request->name(), response, DeadlineOf(*context));
  });
}

grpc::Status RouterService::UpdateCollection(grpc::ServerContext* context,
                                             const v1::UpdateCollectionRequest* request,
                                             v1::CollectionInfo* response) {
  return gate_.Finish("UpdateCollection", Clock::now(), *context, Role::kAdmin, [&] {
    return router_->UpdateCollection(*request, response, DeadlineOf(*context));
  });
}

grpc::ServerReadReactor<grpc::ByteBuffer>* RouterService::Upsert(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  const auto start = Clock::now();
  const Router::Deadline deadline = DeadlineOf(*context);
  return new UpsertStream(
      gate_.Authorize(*context, Role::kAdmin), upsert_pool_.get(),
      [this, deadline](std::shared_ptr<const v1::UpsertRequest> message, UpsertProgress& progress) {
        if (progress.collection_name.empty()) {
          progress.collection_name = message->collection();
        } else if (message->collection() != progress.collection_name) {
          return absl::InvalidArgumentError(
              absl::StrCat("every message of an Upsert stream must name the same collection: got '",
                           message->collection(), "' after '", progress.collection_name, "'"));
        }
        uint64_t committed = 0;
        absl::Status status = router_->UpsertMessage(*message, &committed, deadline);
        if (!status.ok()) return status;
        progress.committed += committed;
        ++progress.messages;
        return absl::OkStatus();
      },
      [this, start](const absl::Status& status, const UpsertProgress&) {
        metrics_->RecordRequest("Upsert", absl::StatusCodeToString(status.code()),
                                std::chrono::duration<double>(Clock::now() - start).count());
      },
      response);
}

grpc::Status RouterService::Get(grpc::ServerContext* context, const v1::GetRequest* request,
                                v1::GetResponse* response) {
  return gate_.Finish("Get", Clock::now(), *context, Role::kRead,
                      [&] { return router_->Get(*request, response, DeadlineOf(*context)); });
}

grpc::Status RouterService::Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) {
  return gate_.Finish("Delete", Clock::now(), *context, Role::kAdmin,
                      [&] { return router_->Delete(*request, response, DeadlineOf(*context)); });
}

grpc::Status RouterService::Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                                   v1::SearchResponse* response) {
  return gate_.Finish("Search", Clock::now(), *context, Role::kRead,
                      [&] { return router_->Search(*request, response, DeadlineOf(*context)); });
}

grpc::Status RouterService::SearchBatch(grpc::ServerContext* context,
                                        const v1::SearchBatchRequest* request,
                                        v1::SearchBatchResponse* response) {
  return gate_.Finish("SearchBatch", Clock::now(), *context, Role::kRead, [&] {
    return router_->SearchBatch(*request, response, DeadlineOf(*context));
  });
}

grpc::Status RouterService::BuildIndex(grpc::ServerContext* context,
                                       const v1::BuildIndexRequest* request,
                                       v1::BuildIndexResponse* response) {
  return gate_.Finish("BuildIndex", Clock::now(), *context, Role::kAdmin, [&] {
    return router_->BuildIndex(*request, response, DeadlineOf(*context));
  });
}

grpc::Status RouterService::DropIndex(grpc::ServerContext* context,
                                      const v1::DropIndexRequest* request, v1::DropIndexResponse*) {
  return gate_.Finish("DropIndex", Clock::now(), *context, Role::kAdmin,
                      [&] { return router_->DropIndex(*request, DeadlineOf(*context)); });
}

grpc::Status RouterService::Calibrate(grpc::ServerContext* context,
                                      const v1::CalibrateRequest* request,
                                      v1::CalibrationInfo* response) {
  return gate_.Finish("Calibrate", Clock::now(), *context, Role::kAdmin,
                      [&] { return router_->Calibrate(*request, response, DeadlineOf(*context)); });
}

grpc::Status RouterService::CreateSnapshot(grpc::ServerContext* context,
                                           const v1::CreateSnapshotRequest* request,
                                           v1::SnapshotInfo* response) {
  return gate_.Finish("CreateSnapshot", Clock::now(), *context, Role::kAdmin, [&] {
    return router_->CreateSnapshot(*request, response, DeadlineOf(*context));
  });
}

grpc::Status RouterService::ListSnapshots(grpc::ServerContext* context,
                                          const v1::ListSnapshotsRequest*,
                                          v1::ListSnapshotsResponse* response) {
  return gate_.Finish("ListSnapshots", Clock::now(), *context, Role::kAdmin,
                      [&] { return router_->ListSnapshots(response); });
}

grpc::Status RouterService::MoveShard(grpc::ServerContext* context,
                                      const v1::MoveShardRequest* request,
                                      v1::MoveShardResponse* response) {
  return gate_.Finish("MoveShard", Clock::now(), *context, Role::kAdmin,
                      [&] { return router_->MoveShard(*request, response, DeadlineOf(*context)); });
}

}  // namespace adanns::server
