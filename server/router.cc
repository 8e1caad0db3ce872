// Router: start-up, shard resolution, collections and vector writes (searches: router_search.cc,
// indexes and calibration: router_indexes.cc, moves: router_moves.cc).
#include "server/router.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "index/float16.h"
#include "server/collection_info_merge.h"
#include "server/router_shard_calls.h"
#include "server/shard_channel.h"
#include "server/shard_fanout.h"
#include "server/validation.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// Shards one collection may have: a shard is a RocksDB with its own threads on some node.
constexpr uint32_t kMaxShards = 1024;
// Copies of a shard: every write waits for each in-sync copy, so more buys little.
constexpr uint32_t kMaxReplicas = 5;
// How long a router waits for its watch to show its own write (the record it just created).
constexpr absl::Duration kOwnWriteVisible = absl::Seconds(5);

// Values an fp16 resident prefix cannot hold: refused before the message is split, so that a bad
// message writes nothing on any shard (each shard would refuse only its own part).
absl::Status CheckFitsFloat16Prefix(const v1::UpsertRequest& message,
                                    const v1::CreateCollectionRequest& spec) {
  if (spec.storage().resident_precision() != v1::PRECISION_FP16) return absl::OkStatus();
  const uint32_t resident =
      spec.storage().resident_dims() == 0 ? spec.dim() : spec.storage().resident_dims();
  for (const v1::Vector& vector : message.vectors()) {
    const std::span<const float> prefix(vector.values().data(),
                                        std::min<size_t>(resident, vector.values_size()));
    if (const auto at = index::FirstOutsideFloat16(prefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("vector id ", vector.id(), " has ", prefix[*at], " at index ", *at,
                       ": collection '", spec.name(),
                       "' keeps its resident prefix as fp16 (resident_precision FP16), which "
                       "holds values up to ",
                       index::kFloat16Max, " in magnitude"));
    }
  }
  return absl::OkStatus();
}

// The request's ids split by shard (each part keeps the request's order).
template <typename ShardRequest, typename Request>
std::vector<ShardRequest> SplitIdsByShard(const Router::Route& route, const Request& request) {
  std::vector<ShardRequest> parts(route.shard_count());
  for (uint64_t id : request.ids()) {
    const uint32_t shard = cluster::ShardOfId(id, route.shard_count());
    parts[shard].set_shard(shard);
    parts[shard].mutable_request()->set_collection(request.collection());
    parts[shard].mutable_request()->add_ids(id);
  }
  return parts;
}

// The request's ids split by shard, sent to the shards that got some; `call(stub, context, part,
// reply, done)` starts one call.
template <typename ShardRequest, typename Response, typename Request, typename Call>
std::vector<ShardReply<Response>> SendIdsByShard(const Router::Route& route, const Request& request,
                                                 Router::Deadline deadline, Call call) {
  const std::vector<ShardRequest> parts = SplitIdsByShard<ShardRequest>(route, request);
  return FanOut<Response>(route.shard_count(), deadline,
                          [&](size_t i, grpc::ClientContext* context, Response* reply,
                              std::function<void(grpc::Status)> done) {
                            if (parts[i].request().ids_size() == 0) {
                              done(grpc::Status::OK);
                            } else if (route.stubs[i] == nullptr) {
                              done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is not live"));
                            } else {
                              call(*route.stubs[i], context, &parts[i], reply, std::move(done));
                            }
                          });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Router>> Router::Start(RouterOptions options) {
  ASSIGN_OR_RETURN(cluster::ClusterKeys keys, cluster::ClusterKeys::Create(options.cluster));
  ASSIGN_OR_RETURN(std::unique_ptr<cluster::EtcdClient> client,
                   cluster::EtcdClient::Create(options.etcd));
  if (options.default_shards == 0 || options.default_shards > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("--default_shards must be in 1..", kMaxShards));
  }
  if (options.default_replicas == 0 || options.default_replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("--default_replicas must be in 1..", kMaxReplicas));
  }
  if (!(options.hedging.percentile >= 0 && options.hedging.percentile < 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--hedge_percentile must be in [0, 100) (0 = no hedging), got ",
                     options.hedging.percentile));
  }
  return std::unique_ptr<Router>(
      new Router(std::move(options), std::move(keys), std::move(client)));
}

Router::Router(RouterOptions options, cluster::ClusterKeys keys,
               std::unique_ptr<cluster::EtcdClient> etcd)
    : options_(std::move(options)),
      keys_(std::move(keys)),
      etcd_(std::move(etcd)),
      reads_(options_.hedging, options_.metrics),
      stubs_(options_.shard_credentials, options_.cluster_key, options_.max_message_bytes) {
  nodes_ = std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.NodesPrefix());
  collections_ = std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.CollectionsPrefix());
  calibrations_ =
      std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.CalibrationsPrefix());
  shard_states_ = std::make_unique<cluster::EtcdPrefixWatch>(etcd_.get(), keys_.ShardsPrefix());
}

Router::~Router() { CancelAllMergedCalibrations(); }

Router::Deadline Router::DefaultDeadline() const {
  return std::chrono::system_clock::now() + absl::ToChronoSeconds(options_.shard_deadline);
}

std::map<std::string, std::string> Router::LiveNodes() const {
  return LiveNodeAddresses(nodes_->Current());
}

absl::StatusOr<Router::Route> Router::Resolve(const std::string& name, Pick pick,
                                              const std::string& session_key) const {
  const std::string key = keys_.Collection(name);
  std::optional<cluster::EtcdKeyValue> found;
  if (collections_->AwaitSynced(absl::ZeroDuration()).ok()) found = collections_->Find(key);
  if (!found.has_value()) {
    // Not (yet) in the watched copy: ask etcd, so a collection another router created a moment
    // ago is found (read-your-writes across routers).
    ASSIGN_OR_RETURN(found, etcd_->Get(key));
    if (!found.has_value()) {
      return absl::NotFoundError(absl::StrCat("collection '", name, "' does not exist"));
    }
  }
  Route route;
  ASSIGN_OR_RETURN(route.record, cluster::ParseShardMap(key, found->value));
  route.created_revision = found->create_revision;
  const std::map<std::string, std::string> live = LiveNodes();
  auto stub_of = [&](const std::string& node_id) {
    const auto node = live.find(node_id);
    return node == live.end() ? nullptr : stubs_.For(node->second);
  };
  for (const v1::ShardAssignment& assignment : route.record.shards()) {
    std::vector<std::string> copies = cluster::ReplicaNodes(assignment);
    std::string chosen = assignment.node_id();
    route.states.emplace_back();
    if (copies.size() > 1) {
      const std::string state_key = keys_.ShardState(name, assignment.shard());
      std::optional<std::string> bytes;
      if (const auto state_kv = shard_states_->Find(state_key)) bytes = state_kv->value;
      ASSIGN_OR_RETURN(
          const v1::ShardStateRecord state,
          cluster::EffectiveShardState(state_key, assignment, route.created_revision, bytes));
      // The primary first, the others in placement order.
      std::stable_partition(copies.begin(), copies.end(),
                            [&](const std::string& node) { return node == state.primary(); });
      chosen = state.primary();
      route.states.back() = state;
      if (pick == Pick::kInSyncCopy) {
        std::vector<std::string> readable;
        for (const std::string& node : state.in_sync()) {
          if (live.contains(node)) readable.push_back(node);
        }
        if (!readable.empty() && session_key.empty()) {
          chosen = readable[read_turn_.fetch_add(1) % readable.size()];
        } else if (!readable.empty()) {  // a session keeps its copy while the set holds
          std::sort(readable.begin(), readable.end());
          chosen = readable[SessionCopy(session_key, assignment.shard(), readable.size())];
        }
      }
    }
    route.node_ids.push_back(chosen);
    route.stubs.push_back(stub_of(chosen));
    std::vector<std::shared_ptr<v1::ShardService::Stub>> stubs;
    for (const std::string& node : copies) stubs.push_back(stub_of(node));
    route.copy_ids.push_back(std::move(copies));
    route.copy_stubs.push_back(std::move(stubs));
  }
  return route;
}

uint32_t Router::Route::copies() const {
  size_t most = 1;
  for (const std::vector<std::string>& ids : copy_ids) most = std::max(most, ids.size());
  return static_cast<uint32_t>(most);
}

Router::Route Router::Route::OnCopy(size_t c) const {
  Route copy = *this;
  for (size_t shard = 0; shard < copy_ids.size(); ++shard) {
    const bool has = c < copy_ids[shard].size();
    copy.node_ids[shard] = has ? copy_ids[shard][c] : std::string();
    copy.stubs[shard] = has ? copy_stubs[shard][c] : nullptr;
  }
  return copy;
}

std::shared_ptr<v1::ShardService::Stub> Router::Route::OtherInSyncCopy(size_t shard) const {
  if (states[shard].epoch() == 0) return nullptr;
  for (size_t c = 0; c < copy_ids[shard].size(); ++c) {
    const std::string& node = copy_ids[shard][c];
    if (node == node_ids[shard] || copy_stubs[shard][c] == nullptr) continue;
    if (std::find(states[shard].in_sync().begin(), states[shard].in_sync().end(), node) !=
        states[shard].in_sync().end()) {
      return copy_stubs[shard][c];
    }
  }
  return nullptr;
}

std::vector<ShardReadPlan> Router::Route::ReadPlans() const {
  std::vector<ShardReadPlan> plans(shard_count());
  for (size_t shard = 0; shard < plans.size(); ++shard) {
    plans[shard].first = stubs[shard];
    plans[shard].backup = OtherInSyncCopy(shard);
  }
  return plans;
}

// --- Collections ---------------------------------------------------------------------------

absl::Status Router::CreateCollection(const v1::CreateCollectionRequest& request,
                                      v1::CollectionInfo* response, Deadline deadline) {
  RETURN_IF_ERROR(MetaFromCreateRequest(request).status());  // the standalone checks
  const uint32_t shards = request.shards() == 0 ? options_.default_shards : request.shards();
  if (shards > kMaxShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards must be in 1..", kMaxShards, ", got ", shards));
  }
  const uint32_t replicas =
      request.replicas() == 0 ? options_.default_replicas : request.replicas();
  if (replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("replicas must be in 1..", kMaxReplicas, ", got ", replicas));
  }
  const std::string key = keys_.Collection(request.name());
  bool created = false;
  if (absl::StatusOr<Route> existing = Resolve(request.name()); !existing.ok()) {
    if (!absl::IsNotFound(existing.status())) return existing.status();
    RETURN_IF_ERROR(nodes_->AwaitSynced(absl::Seconds(2)));
    std::vector<std::string> live;
    for (const auto& [node_id, address] : LiveNodes()) live.push_back(node_id);
    ASSIGN_OR_RETURN(const std::vector<std::vector<std::string>> placement,
                     cluster::PlaceReplicas(request.name(), shards, replicas, std::move(live)));
    v1::CreateCollectionRequest spec = request;
    spec.set_shards(shards);
    spec.set_replicas(replicas);
    ASSIGN_OR_RETURN(
        created,
        etcd_->CompareAndPut(key, cluster::MakeShardMap(spec, placement).SerializeAsString(), 0));
    if (created) {
      ASSIGN_OR_RETURN(const std::optional<cluster::EtcdKeyValue> written, etcd_->Get(key));
      if (written.has_value()) {
        (void)collections_->AwaitRevision(written->mod_revision, kOwnWriteVisible);
      }
    }
  }
  // Create every copy of every shard (idempotent on the data nodes): a new collection's, or an
  // existing one's that a failed earlier attempt left incomplete.
  ASSIGN_OR_RETURN(const Route route, Resolve(request.name()));
  const absl::Status shards_created = OnEveryCopy(route, [&](const Route& copy, bool) {
    std::vector<v1::CreateShardRequest> requests(copy.shard_count());
    const auto replies = FanOut<v1::CollectionInfo>(
        copy.shard_count(), deadline,
        [&](size_t i, grpc::ClientContext* context, v1::CollectionInfo* info,
            std::function<void(grpc::Status)> done) {
          requests[i].set_shard(static_cast<uint32_t>(i));
          *requests[i].mutable_spec() = copy.record.spec();
          if (!ShardCallable(copy, i, done)) return;
          copy.stubs[i]->async()->CreateShard(context, &requests[i], info, std::move(done));
        });
    return CombineReplies(replies, copy);
  });
  if (!created) {
    return absl::AlreadyExistsError(
        absl::StrCat("collection '", request.name(), "' already exists"));
  }
  if (const absl::Status& status = shards_created; !status.ok()) {
    return absl::Status(status.code(), absl::StrCat(status.message(),
                                                    " (the collection is recorded; call "
                                                    "CreateCollection again to create the "
                                                    "missing shards)"));
  }
  return DescribeCollection(request.name(), response, deadline);
}

absl::Status Router::DescribeCollection(const std::string& name, v1::CollectionInfo* response,
                                        Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(name, "name"));
  ASSIGN_OR_RETURN(const Route route, Resolve(name));
  const auto replies = ToEveryShardByName<v1::CollectionInfo>(
      route, name, deadline,
      [](v1::ShardService::Stub& stub, grpc::ClientContext* context, const v1::ShardRequest* part,
         v1::CollectionInfo* info, std::function<void(grpc::Status)> done) {
        stub.async()->DescribeShard(context, part, info, std::move(done));
      });
  std::vector<const v1::CollectionInfo*> answered;
  std::vector<v1::ShardInfo> shards;
  for (size_t i = 0; i < replies.size(); ++i) {
    v1::ShardInfo shard;
    shard.set_shard(static_cast<uint32_t>(i));
    shard.set_node_id(route.node_ids[i]);
    if (route.states[i].epoch() != 0) {
      for (const std::string& node : route.copy_ids[i]) shard.add_replicas(node);
      *shard.mutable_in_sync() = route.states[i].in_sync();
      shard.set_epoch(route.states[i].epoch());
    }
    if (replies[i].status.ok()) {
      shard.set_state("serving");
      shard.set_vector_count(replies[i].response.vector_count());
      answered.push_back(&replies[i].response);
    } else {
      shard.set_state("unavailable");
      shard.set_error(replies[i].status.error_message());
    }
    shards.push_back(std::move(shard));
  }
  if (answered.empty()) return CombineReplies(replies, route);
  MergeCollectionInfos(answered, response);
  ShowMergedCalibration(route, response->mutable_calibration());
  response->clear_shards();
  for (v1::ShardInfo& shard : shards) *response->add_shards() = std::move(shard);
  return absl::OkStatus();
}

absl::Status Router::ListCollections(v1::ListCollectionsResponse* response, Deadline deadline) {
  RETURN_IF_ERROR(collections_->AwaitSynced(absl::Seconds(2)));
  const std::string prefix = keys_.CollectionsPrefix();
  for (const auto& [key, kv] : collections_->Current()) {
    RETURN_IF_ERROR(
        DescribeCollection(key.substr(prefix.size()), response->add_collections(), deadline));
  }
  return absl::OkStatus();
}

absl::Status Router::DropCollection(const std::string& name, v1::DropCollectionResponse* response,
                                    Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(name, "name"));
  ASSIGN_OR_RETURN(const Route route, Resolve(name));
  // The record goes first: no router routes to the collection any more, even if a shard's node
  // is down now (its directory is then left on that node).
  ASSIGN_OR_RETURN(const int64_t deleted, etcd_->Delete(keys_.Collection(name)));
  if (deleted == 0)
    return absl::NotFoundError(absl::StrCat("collection '", name, "' does not exist"));
  // Derived from the data being dropped: a collection created again under the name starts bare.
  CancelMergedCalibration(name);
  if (absl::Status status = etcd_->Delete(keys_.Calibration(name)).status(); !status.ok()) {
    spdlog::warn("drop of collection {}: its merged calibration record stays ({})", name,
                 status.ToString());
  }
  for (uint32_t shard = 0; shard < route.shard_count(); ++shard) {
    const std::string state_key = keys_.ShardState(name, shard);
    if (!shard_states_->Find(state_key).has_value()) continue;  // never replicated nor moved
    if (absl::Status status = etcd_->Delete(state_key).status(); !status.ok()) {
      spdlog::warn(
          "drop of collection {}: shard {}'s state record stays ({}); a collection "
          "created again under the name ignores it",
          name, shard, status.ToString());
    }
  }
  uint64_t vectors = 0;
  (void)OnEveryCopy(route, [&](const Route& copy, bool primaries) {
    const auto replies = ToEveryShardByName<v1::DropCollectionResponse>(
        copy, name, deadline,
        [](v1::ShardService::Stub& stub, grpc::ClientContext* context, const v1::ShardRequest* part,
           v1::DropCollectionResponse* dropped, std::function<void(grpc::Status)> done) {
          stub.async()->DropShard(context, part, dropped, std::move(done));
        });
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i].status.ok()) {
        if (primaries) vectors += replies[i].response.dropped_vectors();
      } else {
        spdlog::warn(
            "drop of collection {}: shard {} on node {} not dropped ({}); its directory "
            "stays on that node",
            name, i, copy.node_ids[i], replies[i].status.error_message());
      }
    }
    return absl::OkStatus();
  });
  response->set_dropped_vectors(vectors);
  return absl::OkStatus();
}

absl::Status Router::UpdateCollection(const v1::UpdateCollectionRequest& request,
                                      v1::CollectionInfo* response, Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.name(), "name"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.name()));
  RETURN_IF_ERROR(OnEveryCopy(route, [&](const Route& copy, bool) {
    const auto replies = ToEveryShard<v1::ShardUpdateRequest, v1::CollectionInfo>(
        copy, request, deadline,
        [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
           const v1::ShardUpdateRequest* part, v1::CollectionInfo* reply,
           std::function<void(grpc::Status)> done) {
          stub.async()->UpdateShard(context, part, reply, std::move(done));
        });
    return CombineReplies(replies, copy);
  }));
  return DescribeCollection(request.name(), response, deadline);
}

// --- Vectors -------------------------------------------------------------------------------

absl::Status Router::UpsertMessage(const v1::UpsertRequest& message, uint64_t* committed,
                                   Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(message.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route, Resolve(message.collection()));
  RETURN_IF_ERROR(ValidateUpsertVectors(message, route.record.spec().dim()));
  RETURN_IF_ERROR(CheckFitsFloat16Prefix(message, route.record.spec()));
  // Each shard's part keeps the message's order, so a repeated id (always on one shard) still
  // ends with its last value.
  std::vector<v1::ShardUpsertRequest> parts(route.shard_count());
  for (uint32_t shard = 0; shard < route.shard_count(); ++shard) {
    parts[shard].set_shard(shard);
    parts[shard].mutable_request()->set_collection(message.collection());
  }
  for (const v1::Vector& vector : message.vectors()) {
    *parts[cluster::ShardOfId(vector.id(), route.shard_count())].mutable_request()->add_vectors() =
        vector;
  }
  const auto replies = FanOut<v1::UpsertResponse>(
      route.shard_count(), deadline,
      [&](size_t i, grpc::ClientContext* context, v1::UpsertResponse* response,
          std::function<void(grpc::Status)> done) {
        if (parts[i].request().vectors_size() == 0) {
          done(grpc::Status::OK);
        } else if (route.stubs[i] == nullptr) {
          done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is not live"));
        } else {
          route.stubs[i]->async()->Upsert(context, &parts[i], response, std::move(done));
        }
      });
  std::vector<size_t> committed_shards;
  uint64_t vectors = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].status.ok() && parts[i].request().vectors_size() > 0) {
      committed_shards.push_back(i);
      vectors += static_cast<uint64_t>(parts[i].request().vectors_size());
    }
  }
  *committed = vectors;
  absl::Status status = CombineReplies(replies, route);
  if (status.ok()) return status;
  return absl::Status(
      status.code(),
      absl::StrCat(status.message(), "; committed: ", vectors,
                   " vectors of this message, on shards [", absl::StrJoin(committed_shards, ","),
                   "] (a message is atomic per shard, not across shards)"));
}

absl::Status Router::Get(const v1::GetRequest& request, v1::GetResponse* response,
                         Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  RETURN_IF_ERROR(ValidateIdCount(request.ids_size(), "ids"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection(), Pick::kInSyncCopy));
  const std::vector<v1::ShardGetRequest> parts =
      SplitIdsByShard<v1::ShardGetRequest>(route, request);
  std::vector<ShardReadPlan> plans = route.ReadPlans();
  for (size_t i = 0; i < plans.size(); ++i) plans[i].ask = parts[i].request().ids_size() > 0;
  // A copy that could not answer is asked again on another in-sync copy (no hedging: a Get's
  // latency grows with its ids, unlike the searches the windows measure).
  const auto replies = reads_.Read<v1::GetResponse>(
      request.collection(), std::move(plans), deadline, /*hedge=*/false,
      [&parts](size_t shard, v1::ShardService::Stub& stub, grpc::ClientContext* context,
               v1::GetResponse* reply, std::function<void(grpc::Status)> done) {
        stub.async()->Get(context, &parts[shard], reply, std::move(done));
      });
  RETURN_IF_ERROR(CombineReplies(replies, route));
  // Back in request order.
  std::unordered_map<uint64_t, const v1::Vector*> found;
  for (const auto& reply : replies) {
    for (const v1::Vector& vector : reply.response.vectors()) found.emplace(vector.id(), &vector);
  }
  for (uint64_t id : request.ids()) {
    const auto it = found.find(id);
    if (it == found.end()) {
      response->add_missing_ids(id);
    } else {
      *response->add_vectors() = *it->second;
    }
  }
  return absl::OkStatus();
}

absl::Status Router::Delete(const v1::DeleteRequest& request, v1::DeleteResponse* response,
                            Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  RETURN_IF_ERROR(ValidateIdCount(request.ids_size(), "ids"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection()));
  const auto replies = SendIdsByShard<v1::ShardDeleteRequest, v1::DeleteResponse>(
      route, request, deadline,
      [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
         const v1::ShardDeleteRequest* part, v1::DeleteResponse* reply,
         std::function<void(grpc::Status)> done) {
        stub.async()->Delete(context, part, reply, std::move(done));
      });
  uint64_t deleted = 0;
  for (const auto& reply : replies) deleted += reply.response.deleted();
  response->set_deleted(deleted);
  return CombineReplies(replies, route);
}

}  // namespace adanns::server
