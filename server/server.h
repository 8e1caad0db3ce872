// AdannsServer: opens the engine, starts gRPC (service, health, reflection) and the metrics
// endpoint. main.cc turns flags into ServerOptions; tests start it in-process the same way.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/engine.h"
#include "server/grpc_service.h"
#include "server/metrics.h"
#include "server/replication.h"
#include "server/router.h"
#include "server/router_service.h"
#include "server/shard_host.h"
#include "server/shard_service.h"

namespace grpc {
class Server;
}

namespace adanns::server {

struct ServerOptions {
  // gRPC address; port 0 picks a free port (see AdannsServer::port()).
  // Default: 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // RocksDB directory, created when missing.
  // Default: ./data.
  std::string data_dir = "./data";
  // Reads one fetch of full vectors (a tiered collection's re-rank) may run at once, each a
  // MultiGet of its share (threads that wait on the disk, not on the cores). 1 = one MultiGet.
  // Default: 8.
  size_t fetch_threads = 8;
  // RocksDB options: the block cache (full vectors re-ranks read on tiered collections) and
  // direct reads. Default: storage::StoreOptions' (256 MiB cache, buffered reads).
  storage::StoreOptions store;
  // Prometheus endpoint address; empty disables it.
  // Default: 127.0.0.1:9464.
  std::string metrics_listen = "127.0.0.1:9464";
  // Largest gRPC message accepted or sent, in bytes.
  // Default: 64 MiB.
  int max_message_bytes = 64 << 20;
  // OpenMP threads each background index build may use (searches keep the other cores).
  // Default: 1.
  int build_threads = 1;
  // Calibration queries sampled per calibration.
  // Default: 200.
  uint32_t calibration_queries = 200;
  // Calibrate every finished build on rows it held out, and again on growth and query drift.
  // Default: true.
  bool auto_calibrate = true;
  // Recent full-dim search queries kept per collection for calibration (0 = none).
  // Default: 1000.
  size_t calibration_reservoir = 1000;
  // Acknowledged vectors a collection's indexes may have still to absorb (CollectionOptions).
  // Default: 1024.
  size_t fresh_rows_cap = 1024;
  // Limits on what one search may ask for (MFLOPs, k, re-rank depth) and what happens above them.
  // Default: no MFLOPs or re-rank caps, k up to 10000, over-limit requests rejected.
  SearchLimits limits;
  // The GPU mirror of every collection (flat plans on the GPU).
  // Default: off (main.cc turns it on when --gpu=auto finds a GPU).
  GpuOptions gpu;
  // TLS: PEM files of the server's certificate chain and private key (both or neither; neither =
  // plaintext), and optionally of a CA whose client certificates are then required (mTLS).
  // Default: plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Service options (search threads, API keys, ...).
  ServiceOptions service;
  // A cluster data node: hosts shards under <data_dir>/shards (each its own RocksDB, sharing one
  // block cache) and serves the internal ShardService instead of the public service.
  // Default: false (a standalone server).
  bool data_node = false;
  // Data node in a cluster: writes wait for StartReplication (refused UNAVAILABLE before it and
  // during shutdown), so that no write of a replicated shard is committed untagged, i.e. never
  // streamed yet acknowledged. Off for a ShardService tested on its own. Default: false.
  bool replicated_writes = false;
  // Data node: the secret every ShardService call must carry (server/cluster_key.h; a router
  // sends RouterOptions::cluster_key). Default: empty (none: loopback or mutual TLS only).
  std::string cluster_key;
  // A cluster router: serves the public API by routing to the data nodes (with data_node, both).
  // Default: unset.
  std::optional<RouterOptions> router;
};

class AdannsServer {
 public:
  static absl::StatusOr<std::unique_ptr<AdannsServer>> Start(const ServerOptions& options);
  ~AdannsServer();

  int port() const { return port_; }
  int metrics_port() const { return metrics_->port(); }
  // Data node: starts replicating this node's copies of replicated shards (server/replication.h)
  // once the node id is known, before it registers in the cluster. From then on the gRPC health
  // service kCopiesInSyncService is SERVING while every copy here is in its shard's in-sync set
  // (ReplicationManager::CopiesInSync; re-checked every 250 ms): the data node's
  // readiness, while "" (the whole server) stays its liveness.
  absl::Status StartReplication(ReplicationOptions options);
  static constexpr char kCopiesInSyncService[] = "adanns.copies_in_sync";
  // Blocks until Shutdown.
  void Wait();
  // Stops accepting RPCs, lets in-flight ones finish (up to a grace period), closes the store.
  void Shutdown();

 private:
  AdannsServer() = default;
  // The store's usage, or the sum over the hosted shards' stores on a data node.
  storage::RocksStore::Usage StoreUsage() const;

  std::unique_ptr<Metrics> metrics_;
  // Parallel reads of full vectors for tiered collections (StoredVectors); outlives engine_.
  std::unique_ptr<WorkerPool> fetch_pool_;
  // The growth and drift checks searches trigger (CollectionOptions::upkeep_pool); outlives
  // engine_.
  std::unique_ptr<WorkerPool> upkeep_pool_;
  std::unique_ptr<Engine> engine_;  // standalone only
  std::unique_ptr<AdannsService> service_;
  std::unique_ptr<ShardHost> shard_host_;  // data node only
  std::unique_ptr<ShardServiceImpl> shard_service_;
  std::unique_ptr<ReplicationManager> replication_;  // data node, once started
  std::unique_ptr<Router> router_;                   // router only
  std::unique_ptr<RouterService> router_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int port_ = 0;
  // Samples store size and process memory into the metrics every few seconds until Shutdown.
  std::thread sampler_;
  std::thread readiness_;  // data node: kCopiesInSyncService, stopped with the sampler
  std::mutex sampler_mutex_;
  std::condition_variable sampler_stop_;
  bool stopping_ = false;  // guarded by sampler_mutex_
};

}  // namespace adanns::server
