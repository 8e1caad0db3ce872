// AdannsServer start-up order: metrics, engine (loads data), then gRPC; health turns SERVING only
// once every collection is loaded.
#include "server/server.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/text_file.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "rocksdb/cache.h"
#include "server/parse_errors.h"
#include "server/thread_priority.h"
#include "spdlog/spdlog.h"

namespace adanns::server {

namespace {

// How often store size and process memory are sampled into the metrics.
constexpr std::chrono::seconds kSampleEvery{5};
// Readiness follows a copy's return to the in-sync set within this (a rolling upgrade waits on it).
constexpr std::chrono::milliseconds kReadinessEvery{250};
// glibc keeps freed memory in the arena of the thread that allocated it: RocksDB's memtables
// (64 MiB write buffers, filled by the writing threads, freed after a flush) and the receive
// buffers of 4 MB messages leave up to ~120 MiB free in the arenas (a 10-minute soak: the
// allocator's free bytes rose from 59 to 123 MiB while what it had handed out, RocksDB's share
// aside, stayed at 22.3 MiB). When the resident memory beyond what the allocator has handed out
// has grown by this much since the last trim, the sampler hands the free pages back to the OS
// (malloc_trim). Trimmed pages stay free chunks (mallinfo2's free bytes do not drop), so the
// trigger is the resident slack, not the free bytes; the next large allocations fault their pages
// in again, which is why small amounts are left alone.
constexpr double kMallocTrimAfterSlackGrowthBytes = double{64 << 20};

// Plaintext, TLS, or mutual TLS, as the options' PEM files say.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
  }
  if (options.tls_cert_file.empty()) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("a client CA (mutual TLS) needs the server's TLS files");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadTextFile(options.tls_cert_file, "TLS certificate"));
  ASSIGN_OR_RETURN(pair.private_key, ReadTextFile(options.tls_key_file, "TLS key"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadTextFile(options.tls_client_ca_file, "client CA"));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdannsServer>> AdannsServer::Start(const ServerOptions& options) {
  std::unique_ptr<AdannsServer> server(new AdannsServer());
  server->metrics_ = std::make_unique<Metrics>();
  if (!options.metrics_listen.empty()) {
    RETURN_IF_ERROR(server->metrics_->Serve(options.metrics_listen));
    spdlog::info("metrics on http://{}/metrics", options.metrics_listen);
  }

  const auto load_start = std::chrono::steady_clock::now();
  CollectionOptions collection_options;
  collection_options.build_threads = options.build_threads;
  collection_options.calibration_queries = options.calibration_queries;
  collection_options.auto_calibrate = options.auto_calibrate;
  collection_options.calibration_reservoir = options.calibration_reservoir;
  collection_options.fresh_rows_cap = options.fresh_rows_cap;
  collection_options.limits = options.limits;
  collection_options.gpu = options.gpu;
  Metrics* metrics = server->metrics_.get();
  collection_options.on_index_change = [metrics](const std::string& collection,
                                                 const IndexStatus& status) {
    metrics->SetIndexState(collection, status.name, status.state, status.progress,
                           status.build_seconds, static_cast<double>(status.memory_bytes));
  };
  collection_options.on_gpu_error = [metrics](const std::string& /*collection*/,
                                              const std::string& action) {
    metrics->RecordGpuError(action);
  };
  server->fetch_pool_ =
      std::make_unique<WorkerPool>("adanns-fetch", std::max<size_t>(1, options.fetch_threads));
  collection_options.fetch_pool = server->fetch_pool_.get();
  server->upkeep_pool_ = std::make_unique<WorkerPool>("adanns-upkeep", 1, kAutoCalibrationNice);
  collection_options.upkeep_pool = server->upkeep_pool_.get();
  collection_options.on_fetch = [metrics](const std::string& collection, size_t rows,
                                          double seconds) {
    metrics->RecordFetch(collection, static_cast<double>(rows), seconds);
  };
  if (options.data_node) {
    ShardHostOptions host;
    host.root = options.data_dir + "/shards";
    host.store = options.store;
    host.store.block_cache = rocksdb::NewLRUCache(options.store.block_cache_bytes);
    host.collection = collection_options;
    host.service = options.service;
    host.metrics = server->metrics_.get();
    ASSIGN_OR_RETURN(server->shard_host_, ShardHost::Open(std::move(host)));
    server->shard_service_ = std::make_unique<ShardServiceImpl>(
        server->shard_host_.get(), options.cluster_key, options.service.snapshot_root,
        options.replicated_writes);
    spdlog::info(
        "data node: {} shards loaded from {}/shards in {:.2f} s",
        server->shard_host_->List().size(), options.data_dir,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());
  }
  if (options.router.has_value()) {
    RouterOptions router = *options.router;
    router.metrics = server->metrics_.get();
    ASSIGN_OR_RETURN(server->router_, Router::Start(std::move(router)));
    server->router_service_ = std::make_unique<RouterService>(
        server->router_.get(), server->metrics_.get(), options.service.api_keys);
  }
  if (!options.data_node && !options.router.has_value()) {
    ASSIGN_OR_RETURN(server->engine_,
                     Engine::Open(options.data_dir, options.store, collection_options));
    size_t vectors = 0;
    const auto collections = server->engine_->List();
    for (const auto& collection : collections) vectors += collection->size();
    spdlog::info(
        "loaded {} collections, {} vectors from {} in {:.2f} s", collections.size(), vectors,
        options.data_dir,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());
    server->service_ = std::make_unique<AdannsService>(server->engine_.get(),
                                                       server->metrics_.get(), options.service);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ASSIGN_OR_RETURN(const std::shared_ptr<grpc::ServerCredentials> credentials,
                   ServerCredentials(options));
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  if (server->service_ != nullptr) builder.RegisterService(server->service_.get());
  if (server->shard_service_ != nullptr) builder.RegisterService(server->shard_service_.get());
  if (server->router_service_ != nullptr) builder.RegisterService(server->router_service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<ParseErrorInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or invalid?)"));
  }
  server->grpc_server_->GetHealthCheckService()->SetServingStatus(true);
  AdannsServer* raw = server.get();
  server->sampler_ = std::thread([raw] {
    NameThisThread("adanns-sampler");
    std::unique_lock lock(raw->sampler_mutex_);
    double slack_after_trim = 0;  // resident bytes beyond the allocator's handed-out ones
    do {
      const storage::RocksStore::Usage store = raw->StoreUsage();
      const struct mallinfo2 allocator = mallinfo2();
      const double lookups = double(store.block_cache.hits + store.block_cache.misses);
      const double in_use = static_cast<double>(allocator.uordblks + allocator.hblkhd);
      double resident = ProcessResidentBytes();
      if (resident - in_use > slack_after_trim + kMallocTrimAfterSlackGrowthBytes) {
        malloc_trim(0);
        resident = ProcessResidentBytes();
        slack_after_trim = resident - in_use;
      }
      raw->metrics_->SetResourceUsage({
          .store_bytes = static_cast<double>(store.bytes),
          .pending_compaction_bytes = static_cast<double>(store.pending_compaction_bytes),
          .rocksdb_memory = static_cast<double>(store.memory_bytes),
          .resident_bytes = resident,
          .malloc_in_use_bytes = in_use,
          .malloc_free_bytes = static_cast<double>(allocator.fordblks),
          .block_cache_usage_bytes = static_cast<double>(store.block_cache.usage_bytes),
          .block_cache_hit_ratio = lookups > 0 ? double(store.block_cache.hits) / lookups : 0.0,
      });
    } while (!raw->sampler_stop_.wait_for(lock, kSampleEvery, [raw] { return raw->stopping_; }));
  });
  spdlog::info("adanns-server listening on {} (port {}, {}{})", options.listen, server->port_,
               options.tls_cert_file.empty()        ? "plaintext"
               : options.tls_client_ca_file.empty() ? "TLS"
                                                    : "mutual TLS",
               options.service.api_keys != nullptr
                   ? absl::StrCat(", ", options.service.api_keys->size(), " API keys")
                   : ", no API keys");
  return server;
}

AdannsServer::~AdannsServer() { Shutdown(); }

storage::RocksStore::Usage AdannsServer::StoreUsage() const {
  if (engine_ != nullptr) return engine_->store().usage();
  storage::RocksStore::Usage total;
  if (shard_host_ == nullptr) return total;  // a router stores nothing
  for (const auto& shard : shard_host_->List()) {
    const storage::RocksStore::Usage usage = shard->engine().store().usage();
    total.bytes += usage.bytes;
    total.pending_compaction_bytes += usage.pending_compaction_bytes;
    total.memory_bytes += usage.memory_bytes;
    total.vectors_fetched += usage.vectors_fetched;
    total.block_cache = usage.block_cache;  // one cache shared by every shard
  }
  return total;
}

void AdannsServer::Wait() {
  if (grpc_server_) grpc_server_->Wait();
}

absl::Status AdannsServer::StartReplication(ReplicationOptions options) {
  if (shard_host_ == nullptr) return absl::FailedPreconditionError("not a data node");
  ASSIGN_OR_RETURN(replication_, ReplicationManager::Start(std::move(options), shard_host_.get(),
                                                           metrics_.get()));
  shard_service_->SetReplication(replication_.get());
  readiness_ = std::thread([this] {
    NameThisThread("adanns-ready");
    grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService();
    std::unique_lock lock(sampler_mutex_);
    bool was_ready = false;
    std::string reported;
    do {
      std::string lagging;
      const bool ready = replication_->CopiesInSync(&lagging);
      health->SetServingStatus(kCopiesInSyncService, ready);
      if (ready && !was_ready) spdlog::info("every shard copy here is in sync: ready");
      if (!ready && lagging != reported) spdlog::info("not ready: {}", lagging);
      was_ready = ready;
      reported = lagging;
    } while (!sampler_stop_.wait_for(lock, kReadinessEvery, [this] { return stopping_; }));
  });
  return absl::OkStatus();
}

void AdannsServer::Shutdown() {
  if (!grpc_server_) return;
  if (replication_ != nullptr) {
    shard_service_->SetReplication(nullptr);
    replication_->Stop();  // its streams end, so the grpc server's wait below is short
  }
  {
    std::lock_guard lock(sampler_mutex_);
    stopping_ = true;
  }
  sampler_stop_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (readiness_.joinable()) readiness_.join();
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc_server_->Wait();
  grpc_server_.reset();
  replication_.reset();
  service_.reset();
  engine_.reset();  // closes RocksDB cleanly
  shard_service_.reset();
  shard_host_.reset();
  router_service_.reset();
  router_.reset();
  spdlog::info("adanns-server stopped");
}

}  // namespace adanns::server
