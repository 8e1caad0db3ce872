// AdannsService: each RPC is Do<Method> (absl::Status) wrapped by Finish (metrics + mapping).
#include "server/grpc_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "index/default_graph.h"
#include "index/flat_search.h"
#include "server/grpc_status.h"
#include "server/validation.h"

namespace adanns::server {
namespace {

using Clock = std::chrono::steady_clock;
// Sampled searches waiting for the recall check; more are skipped (and counted).
constexpr size_t kRecallCheckQueue = 64;

std::string CodeName(const absl::Status& status) { return absl::StatusCodeToString(status.code()); }

absl::Status ValidateK(uint32_t k) {
  if (k == 0 || k > index::kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in 1..", index::kMaxK, ", got ", k));
  }
  return absl::OkStatus();
}

}  // namespace

AdannsService::AdannsService(Engine* engine, Metrics* metrics, ServiceOptions options)
    : engine_(engine),
      metrics_(metrics),
      options_(options),
      gate_(options_.api_keys, metrics_),
      snapshots_(options_.snapshot_root),
      search_pool_(std::make_unique<WorkerPool>("adanns-batch",
                                                std::max<size_t>(options_.search_threads, 1))),
      recall_checker_(std::make_unique<RecallChecker>(options_.recall_check_fraction,
                                                      kRecallCheckQueue, metrics_)),
      upsert_pool_(std::make_unique<WorkerPool>(
          "adanns-upsert", std::max<size_t>(options_.upsert_threads, 1), kWriterNice)) {
  for (const auto& collection : engine_->List()) {
    UpdateVectorGauge(*collection);
    for (const IndexStatus& status : collection->Indexes()) {
      if (status.name != "flat") {
        metrics_->SetIndexState(collection->metrics_label(), status.name, status.state,
                                status.progress, status.build_seconds,
                                static_cast<double>(status.memory_bytes));
      }
    }
  }
}

absl::Status AdannsService::Authorize(const grpc::ServerContextBase& context, Role role) const {
  return gate_.Authorize(context, role);
}

grpc::Status AdannsService::Finish(const char* method, Clock::time_point start,
                                   const grpc::ServerContextBase& context, Role role,
                                   const std::function<absl::Status()>& call) {
  return gate_.Finish(method, start, context, role, call);
}

void AdannsService::UpdateVectorGauge(const Collection& collection) {
  metrics_->SetCollectionVectors(collection.metrics_label(),
                                 static_cast<double>(collection.size()));
}

// --- Collections ---------------------------------------------------------------------------

absl::Status AdannsService::DoCreateCollection(const v1::CreateCollectionRequest& request,
                                               v1::CollectionInfo* response) {
  if (request.shards() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shards = ", request.shards(),
        ": a standalone server holds a collection in one shard (sharding needs cluster mode)"));
  }
  if (request.replicas() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replicas = ", request.replicas(),
        ": a standalone server keeps one copy of a collection (replication needs cluster mode)"));
  }
  ASSIGN_OR_RETURN(storage::CollectionMeta meta, MetaFromCreateRequest(request));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection,
                   engine_->CreateCollection(std::move(meta)));
  UpdateVectorGauge(*collection);
  FillCollectionInfo(*collection, response);
  return absl::OkStatus();
}

absl::Status AdannsService::DoDescribeCollection(const std::string& name,
                                                 v1::CollectionInfo* response) {
  RETURN_IF_ERROR(ValidateCollectionName(name, "name"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(name));
  FillCollectionInfo(*collection, response);
  return absl::OkStatus();
}

absl::Status AdannsService::DoDropCollection(const std::string& name,
                                             v1::DropCollectionResponse* response) {
  RETURN_IF_ERROR(ValidateCollectionName(name, "name"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(name));
  const std::string label = collection->metrics_label();
  collection.reset();
  ASSIGN_OR_RETURN(uint64_t dropped, engine_->Drop(name));
  metrics_->RemoveCollection(label);
  response->set_dropped_vectors(dropped);
  return absl::OkStatus();
}

absl::Status AdannsService::DoUpdateCollection(const v1::UpdateCollectionRequest& request,
                                               v1::CollectionInfo* response) {
  RETURN_IF_ERROR(ValidateCollectionName(request.name(), "name"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.name()));
  std::optional<index::Budget> budget;
  std::string encoded;
  if (request.has_default_budget()) {
    ASSIGN_OR_RETURN(budget, BudgetFromProto(request.default_budget()));
    if (budget->max_dims.has_value() &&
        (*budget->max_dims == 0 || *budget->max_dims > collection->meta().dim)) {
      return absl::InvalidArgumentError(absl::StrCat("default_budget.max_dims must be in 1..",
                                                     collection->meta().dim, ", got ",
                                                     *budget->max_dims));
    }
    encoded = request.default_budget().SerializeAsString();
  }
  RETURN_IF_ERROR(collection->SetDefaultBudget(std::move(budget), std::move(encoded)));
  FillCollectionInfo(*collection, response);
  return absl::OkStatus();
}

grpc::Status AdannsService::UpdateCollection(grpc::ServerContext* context,
                                             const v1::UpdateCollectionRequest* request,
                                             v1::CollectionInfo* response) {
  const auto start = Clock::now();
  return Finish("UpdateCollection", start, *context, Role::kAdmin,
                [&] { return DoUpdateCollection(*request, response); });
}

grpc::Status AdannsService::CreateCollection(grpc::ServerContext* context,
                                             const v1::CreateCollectionRequest* request,
                                             v1::CollectionInfo* response) {
  const auto start = Clock::now();
  return Finish("CreateCollection", start, *context, Role::kAdmin,
                [&] { return DoCreateCollection(*request, response); });
}

grpc::Status AdannsService::DescribeCollection(grpc::ServerContext* context,
                                               const v1::DescribeCollectionRequest* request,
                                               v1::CollectionInfo* response) {
  const auto start = Clock::now();
  return Finish("DescribeCollection", start, *context, Role::kRead,
                [&] { return DoDescribeCollection(request->name(), response); });
}

grpc::Status AdannsService::ListCollections(grpc::ServerContext* context,
                                            const v1::ListCollectionsRequest*,
                                            v1::ListCollectionsResponse* response) {
  const auto start = Clock::now();
  return Finish("ListCollections", start, *context, Role::kRead, [&] {
    for (const auto& collection : engine_->List()) {
      FillCollectionInfo(*collection, response->add_collections());
    }
    return absl::OkStatus();
  });
}

grpc::Status AdannsService::DropCollection(grpc::ServerContext* context,
                                           const v1::DropCollectionRequest* request,
                                           v1::DropCollectionResponse* response) {
  const auto start = Clock::now();
  return Finish("DropCollection", start, *context, Role::kAdmin,
                [&] { return DoDropCollection(request->name(), response); });
}

// --- Vectors -------------------------------------------------------------------------------

absl::Status AdannsService::UpsertMessage(std::shared_ptr<const v1::UpsertRequest> owned,
                                          UpsertProgress& progress) {
  const v1::UpsertRequest& message = *owned;
  if (progress.collection == nullptr) {
    RETURN_IF_ERROR(ValidateCollectionName(message.collection(), "collection"));
    ASSIGN_OR_RETURN(progress.collection, engine_->Find(message.collection()));
  } else if (message.collection() != progress.collection->meta().name) {
    return absl::InvalidArgumentError(
        absl::StrCat("every message of an Upsert stream must name the same collection: got '",
                     message.collection(), "' after '", progress.collection->meta().name, "'"));
  }
  Collection& collection = *progress.collection;
  const uint32_t dim = collection.meta().dim;
  RETURN_IF_ERROR(ValidateUpsertVectors(message, dim));
  if (options_.max_resident_bytes > 0 &&
      ProcessResidentBytes() > static_cast<double>(options_.max_resident_bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the server's memory is above its limit (--max_memory_mb = ",
        options_.max_resident_bytes >> 20,
        " MiB): upserts are paused until it frees memory; searches and deletes go on"));
  }
  // The rows stay in the parsed message (no copy) until the table has them.
  UpsertBatch batch;
  batch.ids.reserve(static_cast<size_t>(message.vectors_size()));
  batch.rows.reserve(static_cast<size_t>(message.vectors_size()));
  for (const v1::Vector& v : message.vectors()) {
    batch.ids.push_back(v.id());
    batch.rows.push_back(v.values().data());
  }
  const size_t count = batch.ids.size();
  batch.owner = std::move(owned);
  ASSIGN_OR_RETURN(progress.last_ticket, collection.CommitUpsert(std::move(batch)));
  metrics_->RecordIngest(collection.metrics_label(), static_cast<double>(count),
                         static_cast<double>(count * dim * sizeof(float)));
  progress.committed += count;
  ++progress.messages;
  return absl::OkStatus();
}

absl::Status AdannsService::DoGet(const v1::GetRequest& request, v1::GetResponse* response) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  RETURN_IF_ERROR(ValidateIdCount(request.ids_size(), "ids"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  std::vector<std::pair<uint64_t, std::vector<float>>> found;
  std::vector<uint64_t> missing;
  RETURN_IF_ERROR(collection->Get(AsSpan(request.ids()), &found, &missing));
  for (auto& [id, values] : found) {
    v1::Vector* v = response->add_vectors();
    v->set_id(id);
    v->mutable_values()->Add(values.begin(), values.end());
  }
  response->mutable_missing_ids()->Add(missing.begin(), missing.end());
  return absl::OkStatus();
}

absl::Status AdannsService::DoDelete(const v1::DeleteRequest& request,
                                     v1::DeleteResponse* response) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  RETURN_IF_ERROR(ValidateIdCount(request.ids_size(), "ids"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  ASSIGN_OR_RETURN(uint64_t deleted, collection->Delete(AsSpan(request.ids())));
  UpdateVectorGauge(*collection);
  response->set_deleted(deleted);
  return absl::OkStatus();
}

grpc::ServerReadReactor<grpc::ByteBuffer>* AdannsService::Upsert(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  const auto start = Clock::now();
  return new UpsertStream(
      Authorize(*context, Role::kAdmin), upsert_pool_.get(),
      [this](std::shared_ptr<const v1::UpsertRequest> message, UpsertProgress& progress) {
        return UpsertMessage(std::move(message), progress);
      },
      [this, start](const absl::Status& status, const UpsertProgress& progress) {
        if (progress.collection) {
          progress.collection->WaitApplied(progress.last_ticket);  // searchable when answered
          UpdateVectorGauge(*progress.collection);
        }
        metrics_->RecordRequest("Upsert", CodeName(status),
                                std::chrono::duration<double>(Clock::now() - start).count());
      },
      response);
}

absl::Status AdannsService::DoUpsertOne(const v1::UpsertRequest& message,
                                        v1::UpsertResponse* response) {
  UpsertProgress progress;
  RETURN_IF_ERROR(UpsertMessage(std::make_shared<const v1::UpsertRequest>(message), progress));
  progress.collection->WaitApplied(progress.last_ticket);  // searchable when answered
  UpdateVectorGauge(*progress.collection);
  response->set_upserted(progress.committed);
  return absl::OkStatus();
}

grpc::Status AdannsService::Get(grpc::ServerContext* context, const v1::GetRequest* request,
                                v1::GetResponse* response) {
  const auto start = Clock::now();
  return Finish("Get", start, *context, Role::kRead, [&] { return DoGet(*request, response); });
}

grpc::Status AdannsService::Delete(grpc::ServerContext* context, const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) {
  const auto start = Clock::now();
  return Finish("Delete", start, *context, Role::kAdmin,
                [&] { return DoDelete(*request, response); });
}

// --- Indexes -------------------------------------------------------------------------------

absl::Status AdannsService::DoBuildIndex(const v1::BuildIndexRequest& request,
                                         v1::BuildIndexResponse* response) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  const storage::CollectionMeta& meta = collection->meta();
  std::vector<BuildRequest> builds;
  if (request.kind_case() == v1::BuildIndexRequest::kHnsw) {
    ASSIGN_OR_RETURN(const index::HnswBuildParams params,
                     HnswParamsFromProto(request.hnsw(), meta.dim));
    builds.push_back(MakeHnswBuild(params, meta.metric));
  } else if (request.kind_case() == v1::BuildIndexRequest::kIvf) {
    ASSIGN_OR_RETURN(const index::IvfBuildParams params,
                     IvfParamsFromProto(request.ivf(), meta.dim));
    builds.push_back(MakeIvfBuild(params, meta.metric));
  } else if (!request.has_opq()) {
    index::HnswBuildParams params;
    params.graph_dims =
        std::min(index::DefaultGraphDims(meta.dim, meta.nesting_dims), collection->resident_dims());
    builds.push_back(MakeDefaultGraphBuild(params, meta.metric));
  }
  if (request.has_opq()) {
    ASSIGN_OR_RETURN(const std::vector<quant::OpqBuildParams> codebooks,
                     OpqParamsFromProto(request.opq(), meta.dim));
    for (const quant::OpqBuildParams& params : codebooks) {
      builds.push_back(MakeOpqBuild(params, meta.metric));
    }
  }
  ASSIGN_OR_RETURN(const std::vector<IndexStatus> started,
                   collection->StartBuilds(std::move(builds)));
  for (const IndexStatus& status : started) IndexStatusToProto(status, response->add_indexes());
  return absl::OkStatus();
}

absl::Status AdannsService::DoDropIndex(const v1::DropIndexRequest& request) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  if (!KindOfIndexName(request.name()).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "index '", request.name(),
        "' cannot be dropped; droppable indexes: ivf, hnsw and codebooks (opq<prefix_dims>x<M>)"));
  }
  RETURN_IF_ERROR(collection->DropIndex(request.name()));
  metrics_->SetIndexState(collection->metrics_label(), request.name(), "dropped", 0);
  return absl::OkStatus();
}

grpc::Status AdannsService::BuildIndex(grpc::ServerContext* context,
                                       const v1::BuildIndexRequest* request,
                                       v1::BuildIndexResponse* response) {
  const auto start = Clock::now();
  return Finish("BuildIndex", start, *context, Role::kAdmin,
                [&] { return DoBuildIndex(*request, response); });
}

grpc::Status AdannsService::DropIndex(grpc::ServerContext* context,
                                      const v1::DropIndexRequest* request, v1::DropIndexResponse*) {
  const auto start = Clock::now();
  return Finish("DropIndex", start, *context, Role::kAdmin, [&] { return DoDropIndex(*request); });
}

// --- Search --------------------------------------------------------------------------------

absl::Status AdannsService::DoSearch(const v1::SearchRequest& request, v1::SearchResponse* response,
                                     const ShardShareCap* shard_cap) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  RETURN_IF_ERROR(ValidateK(request.k()));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  const uint32_t dim = collection->meta().dim;
  const size_t query_dims = request.query_size();
  if (query_dims == 0 || query_dims > dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query has ", query_dims, " values; it must be the full vector or a prefix of 1..", dim));
  }
  RETURN_IF_ERROR(ValidateFinite(AsSpan(request.query()), "query"));
  ASSIGN_OR_RETURN(index::Budget budget, BudgetFromProto(request.budget()));
  ASSIGN_OR_RETURN(const SearchDevice device, DeviceFromProto(request.device()));
  ASSIGN_OR_RETURN(const SearchOutcome outcome,
                   RunSearch(collection, AsSpan(request.query()), static_cast<uint32_t>(query_dims),
                             1, request.k(), budget, device, nullptr, nullptr, shard_cap));
  ResultToProto(outcome.results.front(), outcome, response);
  return absl::OkStatus();
}

absl::Status AdannsService::DoSearchBatch(const v1::SearchBatchRequest& request,
                                          v1::SearchBatchResponse* response,
                                          const std::function<bool()>& abandoned,
                                          const ShardShareCap* shard_cap) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  RETURN_IF_ERROR(ValidateK(request.k()));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  const uint32_t dim = collection->meta().dim;
  const uint32_t query_dims = request.query_dims();
  if (query_dims == 0 || query_dims > dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("query_dims must be in 1..", dim, ", got ", query_dims));
  }
  const size_t floats = request.queries_size();
  if (floats == 0 || floats % query_dims != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("queries has ", floats,
                     " values; it must be a non-empty multiple of query_dims (", query_dims, ")"));
  }
  const size_t n = floats / query_dims;
  if (n > kMaxBatchQueries) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch has ", n, " queries; at most ", kMaxBatchQueries));
  }
  if (n * request.k() > kMaxBatchHits) {
    return absl::InvalidArgumentError(absl::StrCat("batch asks for ", n, " x k=", request.k(),
                                                   " hits; at most ", kMaxBatchHits,
                                                   " per request (split the batch)"));
  }
  RETURN_IF_ERROR(ValidateFinite(AsSpan(request.queries()), "queries"));
  ASSIGN_OR_RETURN(index::Budget budget, BudgetFromProto(request.budget()));
  ASSIGN_OR_RETURN(const SearchDevice device, DeviceFromProto(request.device()));
  ASSIGN_OR_RETURN(const SearchOutcome outcome,
                   RunSearch(collection, AsSpan(request.queries()), query_dims, n, request.k(),
                             budget, device, search_pool_.get(), abandoned, shard_cap));
  for (const index::SearchResult& result : outcome.results) {
    ResultToProto(result, outcome, response->add_results());
  }
  return absl::OkStatus();
}

absl::StatusOr<SearchOutcome> AdannsService::RunSearch(
    const std::shared_ptr<Collection>& collection, std::span<const float> queries,
    uint32_t query_dims, size_t n, uint32_t k, const index::Budget& budget, SearchDevice device,
    WorkerPool* pool, const std::function<bool()>& abandoned, const ShardShareCap* shard_cap) {
  absl::StatusOr<SearchOutcome> outcome =
      collection->Search(queries, query_dims, n, k, budget, device, pool, abandoned, shard_cap);
  if (absl::IsResourceExhausted(outcome.status())) metrics_->RecordBudgetLimit("rejected");
  if (!outcome.ok()) return outcome;
  collection->ObserveSearch(queries, query_dims, n);
  recall_checker_->Offer(collection, queries, query_dims, k, budget, *outcome);
  if (outcome->clamped) metrics_->RecordBudgetLimit("clamped");
  if (outcome->device != "cpu") {
    metrics_->RecordGpuSearch(n, outcome->gpu_seconds, outcome->gpu_memory_bytes);
  }
  for (const index::SearchResult& result : outcome->results) {
    metrics_->RecordSearch(result.plan, result.cost, budget);
  }
  return outcome;
}

// --- Calibration ---------------------------------------------------------------------------

absl::Status AdannsService::DoCalibrate(const v1::CalibrateRequest& request,
                                        v1::CalibrationInfo* response) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, engine_->Find(request.collection()));
  RETURN_IF_ERROR(ValidateFinite(AsSpan(request.query_vectors()), "query_vectors"));
  CalibrationRequest calibration;
  calibration.queries = request.queries();
  calibration.query_vectors.assign(request.query_vectors().begin(), request.query_vectors().end());
  calibration.ks.assign(request.ks().begin(), request.ks().end());
  calibration.seed = request.seed();
  switch (request.source()) {
    case v1::CALIBRATION_SOURCE_SAMPLED:
      calibration.source = CalibrationQueries::kSampled;
      break;
    case v1::CALIBRATION_SOURCE_RESERVOIR:
      calibration.source = CalibrationQueries::kReservoir;
      break;
    case v1::CALIBRATION_SOURCE_AUTO:
      calibration.source = CalibrationQueries::kAuto;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("source must be a CalibrationSource, got ", request.source()));
  }
  if (!calibration.query_vectors.empty() && request.source() != v1::CALIBRATION_SOURCE_AUTO) {
    return absl::InvalidArgumentError("query_vectors and source are exclusive: give one");
  }
  calibration.reason = "asked for (Calibrate)";
  ASSIGN_OR_RETURN(const CalibrationStatus status,
                   collection->StartCalibration(std::move(calibration)));
  CalibrationToProto(status, response);
  return absl::OkStatus();
}

grpc::Status AdannsService::Calibrate(grpc::ServerContext* context,
                                      const v1::CalibrateRequest* request,
                                      v1::CalibrationInfo* response) {
  const auto start = Clock::now();
  return Finish("Calibrate", start, *context, Role::kAdmin,
                [&] { return DoCalibrate(*request, response); });
}

// Search runs where the request arrived, on gRPC's callback thread: a sync-server handler cost a
// hand-off to its thread and back (6 context switches a request, measured), which was most of the
// gRPC overhead (947 -> 324 us p50 on loopback, README "End to end"). A long search then holds that
// thread; SearchBatch, the long one, stays on a sync thread and spreads over the worker pool.
grpc::ServerUnaryReactor* AdannsService::Search(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response) {
  const auto start = Clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Raw bytes, parsed here: the callback API answers a request that does not parse UNIMPLEMENTED.
  grpc::ByteBuffer bytes(*request);
  v1::SearchRequest parsed;
  v1::SearchResponse answer;
  const grpc::Status status = Finish("Search", start, *context, Role::kRead, [&] {
    if (!grpc::SerializationTraits<v1::SearchRequest>::Deserialize(&bytes, &parsed).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the request is not a valid adanns.v1.SearchRequest (", request->Length(),
                       " bytes of truncated or corrupt protobuf, or a string that is not UTF-8)"));
    }
    return DoSearch(parsed, &answer);
  });
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  bool own_buffer = false;
  reactor->Finish(
      grpc::SerializationTraits<v1::SearchResponse>::Serialize(answer, response, &own_buffer));
  return reactor;
}

grpc::Status AdannsService::SearchBatch(grpc::ServerContext* context,
                                        const v1::SearchBatchRequest* request,
                                        v1::SearchBatchResponse* response) {
  const auto start = Clock::now();
  return Finish("SearchBatch", start, *context, Role::kRead, [&] {
    return DoSearchBatch(*request, response, [context] { return context->IsCancelled(); });
  });
}

// --- Snapshots -----------------------------------------------------------------------------

namespace {

void SnapshotToProto(const SnapshotInfo& info, v1::SnapshotInfo* out) {
  out->set_name(info.name);
  out->set_path(info.path);
  out->set_bytes(info.bytes);
  out->set_created_unix_seconds(info.created_unix_seconds);
}

}  // namespace

grpc::Status AdannsService::CreateSnapshot(grpc::ServerContext* context,
                                           const v1::CreateSnapshotRequest* request,
                                           v1::SnapshotInfo* response) {
  const auto start = Clock::now();
  return Finish("CreateSnapshot", start, *context, Role::kAdmin, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(const SnapshotInfo info, snapshots_.Create(engine_->store(), request->name()));
    SnapshotToProto(info, response);
    return absl::OkStatus();
  });
}

grpc::Status AdannsService::ListSnapshots(grpc::ServerContext* context,
                                          const v1::ListSnapshotsRequest*,
                                          v1::ListSnapshotsResponse* response) {
  const auto start = Clock::now();
  return Finish("ListSnapshots", start, *context, Role::kAdmin, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(const std::vector<SnapshotInfo> snapshots, snapshots_.List());
    for (const SnapshotInfo& info : snapshots) SnapshotToProto(info, response->add_snapshots());
    return absl::OkStatus();
  });
}

grpc::Status AdannsService::MoveShard(grpc::ServerContext* context, const v1::MoveShardRequest*,
                                      v1::MoveShardResponse*) {
  const auto start = Clock::now();
  return Finish("MoveShard", start, *context, Role::kAdmin, [&]() -> absl::Status {
    return absl::FailedPreconditionError(
        "MoveShard moves shards between the data nodes of a cluster: call a router "
        "(adanns-server --role=router); this server holds every collection itself");
  });
}

}  // namespace adanns::server
