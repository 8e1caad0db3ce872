#include "server/shard_host.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/validation.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

std::string ShardName(const std::string& collection, uint32_t shard) {
  return absl::StrCat("collection ", collection, " shard ", shard);
}

// Whether a stored shard was created from `meta` (nesting dims compared after the defaults the
// engine fills in).
bool SameSpec(const storage::CollectionMeta& stored, storage::CollectionMeta requested) {
  if (requested.nesting_dims.empty()) requested.nesting_dims = DefaultNestingDims(requested.dim);
  return stored.dim == requested.dim && stored.metric == requested.metric &&
         stored.nesting_dims == requested.nesting_dims &&
         stored.resident_dims == requested.resident_dims &&
         stored.resident_precision == requested.resident_precision;
}

}  // namespace

HostedShard::HostedShard(std::string collection, uint32_t shard, std::string path,
                         std::unique_ptr<Engine> engine, Metrics* metrics,
                         const ServiceOptions& options)
    : collection_(std::move(collection)),
      shard_(shard),
      path_(std::move(path)),
      engine_(std::move(engine)),
      service_(std::make_unique<AdannsService>(engine_.get(), metrics, options)) {}

HostedShard::~HostedShard() {
  service_.reset();
  engine_.reset();  // closes RocksDB before its files go
  if (dropped_) {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
    if (error) spdlog::warn("cannot remove dropped shard {}: {}", path_, error.message());
  }
}

absl::StatusOr<std::unique_ptr<ShardHost>> ShardHost::Open(ShardHostOptions options) {
  std::error_code error;
  std::filesystem::create_directories(options.root, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the shard directory ", options.root, ": ", error.message()));
  }
  std::unique_ptr<ShardHost> host(new ShardHost(std::move(options)));
  for (const auto& collection_dir : std::filesystem::directory_iterator(host->options_.root)) {
    if (!collection_dir.is_directory()) continue;
    const std::string collection = collection_dir.path().filename().string();
    for (const auto& shard_dir : std::filesystem::directory_iterator(collection_dir.path())) {
      uint32_t shard = 0;
      if (!shard_dir.is_directory() ||
          !absl::SimpleAtoi(shard_dir.path().filename().string(), &shard)) {
        continue;
      }
      ASSIGN_OR_RETURN(std::shared_ptr<HostedShard> opened, host->OpenShard(collection, shard));
      if (opened != nullptr) host->shards_.emplace(std::make_pair(collection, shard), opened);
    }
  }
  return host;
}

std::string ShardHost::ShardPath(const std::string& collection, uint32_t shard) const {
  return absl::StrCat(options_.root, "/", collection, "/", shard);
}

absl::StatusOr<std::shared_ptr<HostedShard>> ShardHost::OpenShard(const std::string& collection,
                                                                  uint32_t shard) {
  const std::string path = ShardPath(collection, shard);
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                   Engine::Open(path, options_.store, CollectionOptionsFor(shard)));
  if (!engine->Find(collection).ok()) {
    // A directory whose collection was never created (a crash between the two steps): it holds
    // nothing, so a later CreateShard starts it afresh.
    spdlog::warn("{}: directory {} holds no collection; ignored", ShardName(collection, shard),
                 path);
    return nullptr;
  }
  return std::make_shared<HostedShard>(collection, shard, path, std::move(engine), options_.metrics,
                                       options_.service);
}

absl::StatusOr<std::shared_ptr<HostedShard>> ShardHost::Create(
    const v1::CreateCollectionRequest& spec, uint32_t shard) {
  ASSIGN_OR_RETURN(storage::CollectionMeta meta, MetaFromCreateRequest(spec));
  std::lock_guard ddl_lock(ddl_mutex_);
  if (absl::StatusOr<std::shared_ptr<HostedShard>> held = Find(meta.name, shard); held.ok()) {
    ASSIGN_OR_RETURN(std::shared_ptr<Collection> collection, (*held)->engine().Find(meta.name));
    if (SameSpec(collection->meta(), meta)) return held;
    return absl::AlreadyExistsError(
        absl::StrCat(ShardName(meta.name, shard), " exists here with another spec"));
  }
  const std::string path = ShardPath(meta.name, shard);
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", error.message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                   Engine::Open(path, options_.store, CollectionOptionsFor(shard)));
  if (!engine->Find(meta.name).ok()) RETURN_IF_ERROR(engine->CreateCollection(meta).status());
  auto hosted = std::make_shared<HostedShard>(meta.name, shard, path, std::move(engine),
                                              options_.metrics, options_.service);
  std::lock_guard map_lock(map_mutex_);
  shards_.emplace(std::make_pair(meta.name, shard), hosted);
  return hosted;
}

CollectionOptions ShardHost::CollectionOptionsFor(uint32_t shard) const {
  CollectionOptions options = options_.collection;
  options.metrics_label_suffix = absl::StrCat("/", shard);
  return options;
}

absl::StatusOr<std::shared_ptr<HostedShard>> ShardHost::Find(const std::string& collection,
                                                             uint32_t shard) const {
  std::lock_guard lock(map_mutex_);
  const auto found = shards_.find(std::make_pair(collection, shard));
  if (found == shards_.end()) {
    return absl::NotFoundError(absl::StrCat(ShardName(collection, shard), " is not on this node"));
  }
  return found->second;
}

absl::StatusOr<uint64_t> ShardHost::Drop(const std::string& collection, uint32_t shard) {
  std::lock_guard ddl_lock(ddl_mutex_);
  ASSIGN_OR_RETURN(std::shared_ptr<HostedShard> hosted, Find(collection, shard));
  ASSIGN_OR_RETURN(const uint64_t dropped, hosted->engine().Drop(collection));
  hosted->MarkDropped();
  std::lock_guard map_lock(map_mutex_);
  shards_.erase(std::make_pair(collection, shard));
  return dropped;
}

absl::StatusOr<std::shared_ptr<HostedShard>> ShardHost::ReplaceWithCopy(
    const std::string& collection, uint32_t shard, const std::string& incoming) {
  // Users of a shard hold it for one request at most: 30 s covers the slowest search.
  constexpr auto kReleaseLimit = std::chrono::seconds(30);
  std::lock_guard ddl_lock(ddl_mutex_);
  ASSIGN_OR_RETURN(std::shared_ptr<HostedShard> old, Find(collection, shard));
  const std::string path = old->path();
  {
    std::lock_guard map_lock(map_mutex_);
    shards_.erase(std::make_pair(collection, shard));
  }
  const auto give_up = std::chrono::steady_clock::now() + kReleaseLimit;
  while (old.use_count() > 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (old.use_count() > 1) {
    std::lock_guard map_lock(map_mutex_);
    shards_.emplace(std::make_pair(collection, shard), old);
    return absl::UnavailableError(absl::StrCat(ShardName(collection, shard),
                                               " stayed in use; its full copy is left for later"));
  }
  old.reset();  // closes its store
  const std::string retired = path + ".replaced";
  std::error_code error;
  std::filesystem::remove_all(retired, error);
  std::filesystem::rename(path, retired, error);
  if (!error) std::filesystem::rename(incoming, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot move the full copy of ",
                                            ShardName(collection, shard), " into ", path, ": ",
                                            error.message()));
  }
  std::filesystem::remove_all(retired, error);
  ASSIGN_OR_RETURN(std::shared_ptr<HostedShard> opened, OpenShard(collection, shard));
  if (opened == nullptr) {
    return absl::DataLossError(
        absl::StrCat("the full copy of ", ShardName(collection, shard), " holds no collection"));
  }
  std::lock_guard map_lock(map_mutex_);
  shards_.emplace(std::make_pair(collection, shard), opened);
  return opened;
}

std::vector<std::shared_ptr<HostedShard>> ShardHost::List() const {
  std::lock_guard lock(map_mutex_);
  std::vector<std::shared_ptr<HostedShard>> all;
  for (const auto& [key, hosted] : shards_) all.push_back(hosted);
  return all;
}

}  // namespace adanns::server
