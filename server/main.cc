// adanns-server: flags → ServerOptions, start, wait for SIGTERM/SIGINT, shut down cleanly.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "base/message_buffers.h"
#include "cluster/node_membership.h"
#include "cluster/role_options.h"
#include "index/cuda/gpu.h"
#include "server/cluster_key.h"
#include "server/server.h"
#include "server/snapshots.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC address HOST:PORT (port 0 = any free)");
ABSL_FLAG(std::string, data_dir, "./data", "RocksDB data directory (created when missing)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus /metrics address HOST:PORT; empty disables it");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound gRPC port to this file once serving (for --listen=...:0)");
ABSL_FLAG(std::string, log_level, "info", "Log level: trace, debug, info, warn, error, off");
ABSL_FLAG(int, max_message_mb, 64, "Largest gRPC message accepted or sent, in MiB");
ABSL_FLAG(int, build_threads, 1,
          "Threads each background index build may use; keep below the core count so searches "
          "keep their latency");
ABSL_FLAG(int, search_threads, 0,
          "Workers shared by every SearchBatch (concurrent batches queue for them); 0 = the "
          "number of cores");
ABSL_FLAG(std::string, api_keys_file, "",
          "File of API keys, one \"KEY ROLE\" per line (ROLE: read or admin); every call must "
          "then send \"authorization: Bearer KEY\". Empty: no authentication");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the server (with --tls_key): TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of the server");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates; client certificates signed by them are then required (mTLS)");
ABSL_FLAG(std::string, snapshot_dir, "./snapshots",
          "Root directory of CreateSnapshot's snapshots (requests name only a directory below "
          "it); empty disables snapshots");
ABSL_FLAG(std::string, restore_from, "",
          "Before serving, copy this snapshot directory into --data_dir, which must be empty or "
          "absent. A data node takes its part of a cluster snapshot (<its --snapshot_dir>/<name>) "
          "and records the snapshot's collections in etcd where they are absent");
ABSL_FLAG(uint64_t, max_memory_mb, 0,
          "Refuse upserts (RESOURCE_EXHAUSTED) while the server's resident memory is above this "
          "many MiB; searches and deletes go on. 0 = no limit");
ABSL_FLAG(uint32_t, calibration_queries, 200,
          "Queries every calibrated plan runs on (1..10000); plans near a common recall target run "
          "on up to four times as many");
ABSL_FLAG(bool, auto_calibrate, true,
          "Calibrate every finished index build on rows it held out, and recalibrate when the "
          "collection grows by a fifth or its queries drift");
ABSL_FLAG(double, recall_check_fraction, 0.005,
          "Fraction of searched queries re-run exactly in the background at the lowest priority "
          "to export the recall budgets really get (adanns_budget_observed_recall); 0 = none");
ABSL_FLAG(uint32_t, calibration_reservoir, 1000,
          "Recent full-dim search queries kept (in memory) per collection for calibration and the "
          "drift check (0..100000; 0 = none)");
ABSL_FLAG(uint32_t, fresh_rows_cap, 1024,
          "Acknowledged vectors a collection's indexes may have still to absorb (every index "
          "search scans them exactly); an upsert that would pass it waits for the indexes, then "
          "gets RESOURCE_EXHAUSTED (1..1000000)");
ABSL_FLAG(uint32_t, block_cache_mb, 256,
          "RocksDB block cache in MiB, shared by every collection: the full vectors a tiered "
          "collection's re-rank reads, plus every SST's index and bloom filter blocks (about 25 "
          "bytes per stored vector); 256 holds the metadata of several million vectors and ~70k "
          "hot 768-d rows (1..1048576)");
ABSL_FLAG(
    uint32_t, fetch_threads, 8,
    "Parallel reads one fetch of full vectors (a tiered collection's re-rank) may issue, each "
    "a MultiGet of its share; they wait on the disk, not the cores (1..256; 1 = one "
    "MultiGet)");
ABSL_FLAG(bool, direct_reads, false,
          "Read SST files with O_DIRECT, bypassing the page cache, so the block cache is the only "
          "cache of full vectors (benchmarks of tiered collections)");
ABSL_FLAG(bool, direct_writes, true,
          "Write (and compact) SST files with O_DIRECT instead of through the page cache: ingest "
          "spends its CPU on the WAL, not on a second copy of every byte (ignored, with a log "
          "line, where the file system refuses O_DIRECT). The WAL's synced writes are unchanged");
ABSL_FLAG(double, max_query_mflops, 0,
          "Hard cap on the MFLOPs any one query may spend, whatever its budget; 0 = none. On a "
          "router: the cap for the whole query, split over its shards by their sizes");
ABSL_FLAG(uint32_t, max_k, 10000, "Most hits one query may ask for (1..10000)");
ABSL_FLAG(uint32_t, max_rerank_candidates, 0, "Most re-rank candidates a plan may keep; 0 = none");
// Default auto since `adanns-gpu check` passed on an H200 (2026-12-04; README, GPU section).
ABSL_FLAG(std::string, gpu, "auto",
          "auto (default): keep collections resident on the GPU when one is usable at start-up "
          "(flat plans run there; without one everything runs on the CPU); off: CPU only; "
          "emulate: a host-memory stand-in for the GPU (tests)");
ABSL_FLAG(std::string, gpu_storage, "fp32",
          "Element type of rows on the GPU: fp32 or fp16 (fp16 refuses upserts with values "
          "beyond +-65504); needs --gpu=auto or emulate");
ABSL_FLAG(uint64_t, gpu_memory_mb, 0,
          "Device memory one collection's resident rows may take; 0 = no limit (a collection "
          "over it stays on the CPU)");
ABSL_FLAG(std::string, over_limit, "reject",
          "A search over --max_query_mflops, --max_k or --max_rerank_candidates: 'reject' "
          "(RESOURCE_EXHAUSTED) or 'clamp' (lowered to the limit, then searched)");
ABSL_FLAG(std::string, role, "standalone",
          "standalone (one server, today's behaviour), data (a cluster data node: hosts shards "
          "under --data_dir/shards, serves the internal ShardService, registers in etcd), router "
          "(serves the public API by routing to the data nodes; stores nothing) or data,router");
ABSL_FLAG(uint32_t, default_shards, 4,
          "Router: shards of a collection created without `shards` (1..1024)");
ABSL_FLAG(uint32_t, default_replicas, 1,
          "Router: copies of every shard of a collection created without `replicas` (1..5; at "
          "most the live data nodes)");
ABSL_FLAG(double, hedge_percentile, 95,
          "Router: a search's shard call still running after this percentile of the shard's "
          "recent latencies (at least 2 ms) also goes to another in-sync copy; the first answer "
          "wins. In [0, 100); 0 = no hedging");
ABSL_FLAG(int, replication_ack_timeout_ms, 2000,
          "Data node: how long a shard's primary waits for an in-sync follower to apply a write "
          "before removing it from the in-sync set (keep it below --lease_seconds)");
ABSL_FLAG(uint64_t, wal_retention_seconds, 86400,
          "Data node: how long a shard keeps WAL files after their data is flushed, so a replica "
          "that was away catches up from the log instead of a full copy (0: no age limit)");
ABSL_FLAG(uint64_t, wal_retention_mb, 4096,
          "Data node: cap on the kept WAL files per shard (MiB; 0: no size limit)");
ABSL_FLAG(std::string, etcd, "",
          "HOST:PORT[,HOST:PORT...] of the etcd members; required for data and router, an error "
          "for standalone");
ABSL_FLAG(std::string, cluster, "adanns", "Cluster name: the etcd key prefix /<cluster>/");
ABSL_FLAG(std::string, cluster_key_file, "",
          "File holding the cluster key (at least 16 bytes): a data node requires it on every "
          "shard call, a router sends it; lets a data node listen beyond loopback without mutual "
          "TLS (sent in the clear without TLS: for a trusted network)");
ABSL_FLAG(std::string, etcd_ca, "",
          "PEM CA that signs the etcd members' certificates: set, data nodes and routers reach "
          "etcd over TLS (https:// client URLs)");
ABSL_FLAG(std::string, etcd_cert, "",
          "PEM client certificate shown to etcd (with --etcd_key and --etcd_ca), for an etcd "
          "started with --client-cert-auth");
ABSL_FLAG(std::string, etcd_key, "", "PEM private key of --etcd_cert");
ABSL_FLAG(
    std::string, shard_tls_ca, "",
    "Router and data node: PEM CA that signs the data nodes' certificates (their --tls_cert): set, "
    "routers (and followers of replicated shards) dial data nodes over TLS");
ABSL_FLAG(std::string, shard_tls_cert, "",
          "Router and data node: PEM client certificate shown to data nodes that require mutual "
          "TLS (their "
          "--tls_client_ca); with --shard_tls_key and --shard_tls_ca");
ABSL_FLAG(std::string, shard_tls_key, "",
          "Router and data node: PEM private key of --shard_tls_cert");
ABSL_FLAG(std::string, node_id, "", "This node's name in the cluster; default: --advertise");
ABSL_FLAG(std::string, advertise, "",
          "HOST:PORT other nodes dial; default: the --listen host with the port bound (required "
          "when --listen is a wildcard address)");
ABSL_FLAG(int, lease_seconds, 5,
          "TTL of this node's etcd lease (2..300): a node that stops renewing it leaves the "
          "cluster this long after");

namespace {

int stop_pipe[2] = {-1, -1};

void OnStopSignal(int signal) {
  // write() is async-signal-safe; a second signal while the first is handled is harmless.
  [[maybe_unused]] const ssize_t written = write(stop_pipe[1], &signal, sizeof(signal));
}

}  // namespace

int main(int argc, char** argv) {
  // Ingest +23% (median of 3) at the same resident memory
  // (bench/results/write-path-ingest-malloc-interleaved.txt); 32 MiB of free heap top is kept.
  adanns::KeepMessageBuffersInHeap(32 << 20);
  absl::SetProgramUsageMessage("adanns-server: vector search for Matryoshka embeddings");
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  // A stop signal may land on any thread (libraries such as OpenBLAS start their own with an
  // open mask), so the handler only writes to a pipe that one thread waits on.
  if (pipe(stop_pipe) != 0) {
    spdlog::error("cannot create the signal pipe");
    return 1;
  }
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  adanns::cluster::RoleFlags role_flags;
  role_flags.role = absl::GetFlag(FLAGS_role);
  role_flags.etcd = absl::GetFlag(FLAGS_etcd);
  role_flags.cluster = absl::GetFlag(FLAGS_cluster);
  role_flags.node_id = absl::GetFlag(FLAGS_node_id);
  role_flags.advertise = absl::GetFlag(FLAGS_advertise);
  role_flags.lease_seconds = absl::GetFlag(FLAGS_lease_seconds);
  role_flags.etcd_tls = {absl::GetFlag(FLAGS_etcd_ca), absl::GetFlag(FLAGS_etcd_cert),
                         absl::GetFlag(FLAGS_etcd_key)};
  role_flags.shard_tls = {absl::GetFlag(FLAGS_shard_tls_ca), absl::GetFlag(FLAGS_shard_tls_cert),
                          absl::GetFlag(FLAGS_shard_tls_key)};
  absl::StatusOr<adanns::cluster::RoleOptions> role = adanns::cluster::ParseRoleFlags(role_flags);
  if (!role.ok()) {
    spdlog::error("bad flags: {}", std::string(role.status().message()));
    return 1;
  }
  adanns::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  options.build_threads = std::max(1, absl::GetFlag(FLAGS_build_threads));
  const int threads = absl::GetFlag(FLAGS_search_threads);
  options.service.search_threads =
      threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  options.service.recall_check_fraction = absl::GetFlag(FLAGS_recall_check_fraction);
  if (!(options.service.recall_check_fraction >= 0 && options.service.recall_check_fraction <= 1)) {
    spdlog::error("bad flags: --recall_check_fraction must be in [0, 1]");
    return 1;
  }

  if (const std::string keys_file = absl::GetFlag(FLAGS_api_keys_file); !keys_file.empty()) {
    absl::StatusOr<adanns::server::ApiKeys> keys = adanns::server::ApiKeys::Load(keys_file);
    if (!keys.ok()) {
      spdlog::error("--api_keys_file: {}", keys.status().ToString());
      return 1;
    }
    options.service.api_keys = std::make_shared<const adanns::server::ApiKeys>(*std::move(keys));
  }
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.data_node = role->data;
  options.replicated_writes = role->data;
  std::string cluster_key;
  if (const std::string key_file = absl::GetFlag(FLAGS_cluster_key_file); !key_file.empty()) {
    if (!role->data && !role->router) {
      spdlog::error("bad flags: --cluster_key_file is for --role=data or router");
      return 1;
    }
    absl::StatusOr<std::string> key = adanns::server::ReadClusterKey(key_file);
    if (!key.ok()) {
      spdlog::error("--cluster_key_file: {}", std::string(key.status().message()));
      return 1;
    }
    cluster_key = *std::move(key);
  }
  if (role->data) {
    options.cluster_key = cluster_key;
    options.store.wal_retention_seconds = absl::GetFlag(FLAGS_wal_retention_seconds);
    options.store.wal_retention_mb = absl::GetFlag(FLAGS_wal_retention_mb);
    if (absl::GetFlag(FLAGS_replication_ack_timeout_ms) <= 0) {
      spdlog::error("bad flags: --replication_ack_timeout_ms must be positive");
      return 1;
    }
    if (options.store.wal_retention_seconds == 0 && options.store.wal_retention_mb == 0) {
      // RocksDB reads 0 and 0 as "keep nothing": replicas could never catch up from the log.
      spdlog::error("bad flags: --wal_retention_seconds and --wal_retention_mb cannot both be 0");
      return 1;
    }
  }
  if (role->router) {
    adanns::server::RouterOptions router;
    router.etcd = role->EtcdClientOptions();
    router.cluster = role->cluster;
    router.default_shards = absl::GetFlag(FLAGS_default_shards);
    router.default_replicas = absl::GetFlag(FLAGS_default_replicas);
    router.max_message_bytes = options.max_message_bytes;
    router.cluster_key = cluster_key;
    router.shard_credentials = role->shard_credentials;
    router.hedging.percentile = absl::GetFlag(FLAGS_hedge_percentile);
    options.router = std::move(router);
  }
  if (role->data) {
    if (absl::Status exposed = adanns::cluster::CheckInternalServiceExposure(
            options.listen, !options.tls_client_ca_file.empty(), !cluster_key.empty());
        !exposed.ok()) {
      spdlog::error("bad flags: {}", std::string(exposed.message()));
      return 1;
    }
  }
  options.service.snapshot_root = absl::GetFlag(FLAGS_snapshot_dir);
  options.service.max_resident_bytes = absl::GetFlag(FLAGS_max_memory_mb) << 20;
  std::vector<adanns::v1::ShardMapRecord> restored_maps;  // a data node's, recorded when absent
  if (const std::string from = absl::GetFlag(FLAGS_restore_from); !from.empty()) {
    absl::Status restored = absl::OkStatus();
    if (role->data) {
      absl::StatusOr<std::vector<adanns::v1::ShardMapRecord>> maps =
          adanns::server::RestoreNodeSnapshot(from, options.data_dir, role->node_id);
      restored = maps.status();
      if (maps.ok()) restored_maps = *std::move(maps);
    } else {
      restored = adanns::server::RestoreSnapshot(from, options.data_dir);
    }
    if (!restored.ok()) {
      spdlog::error("--restore_from: {}", restored.ToString());
      return 1;
    }
    spdlog::info("restored snapshot {} into {}", from, options.data_dir);
  }
  options.calibration_queries = absl::GetFlag(FLAGS_calibration_queries);
  options.auto_calibrate = absl::GetFlag(FLAGS_auto_calibrate);
  options.calibration_reservoir = absl::GetFlag(FLAGS_calibration_reservoir);
  options.fresh_rows_cap = absl::GetFlag(FLAGS_fresh_rows_cap);
  const uint32_t block_cache_mb = absl::GetFlag(FLAGS_block_cache_mb);
  options.store.block_cache_bytes = size_t{block_cache_mb} << 20;
  options.store.use_direct_reads = absl::GetFlag(FLAGS_direct_reads);
  options.store.use_direct_writes = absl::GetFlag(FLAGS_direct_writes);
  options.fetch_threads = absl::GetFlag(FLAGS_fetch_threads);
  options.limits.max_mflops = absl::GetFlag(FLAGS_max_query_mflops);
  options.limits.max_k = absl::GetFlag(FLAGS_max_k);
  options.limits.max_rerank_candidates = absl::GetFlag(FLAGS_max_rerank_candidates);
  const std::string over_limit = absl::GetFlag(FLAGS_over_limit);
  if ((over_limit != "reject" && over_limit != "clamp") || options.limits.max_k == 0 ||
      options.limits.max_k > 10000 || options.calibration_queries == 0 ||
      options.calibration_queries > 10000 || !(options.limits.max_mflops >= 0) ||
      options.calibration_reservoir > 100000 || options.fresh_rows_cap == 0 ||
      options.fresh_rows_cap > 1000000 || block_cache_mb == 0 || block_cache_mb > 1048576 ||
      options.fetch_threads == 0 || options.fetch_threads > 256) {
    spdlog::error(
        "bad flags: --over_limit must be reject or clamp, --max_k and --calibration_queries in "
        "1..10000, --max_query_mflops >= 0, --calibration_reservoir in 0..100000, "
        "--fresh_rows_cap in 1..1000000, --block_cache_mb in 1..1048576, --fetch_threads in "
        "1..256");
    return 1;
  }
  options.limits.clamp = over_limit == "clamp";
  if (options.router.has_value()) {  // the cluster-wide cap, split over a query's shards
    options.router->max_query_mflops = options.limits.max_mflops;
    options.router->clamp_over_limit = options.limits.clamp;
  }
  const std::string gpu = absl::GetFlag(FLAGS_gpu);
  const std::string gpu_storage = absl::GetFlag(FLAGS_gpu_storage);
  if ((gpu != "auto" && gpu != "off" && gpu != "emulate") ||
      (gpu_storage != "fp32" && gpu_storage != "fp16")) {
    spdlog::error("bad flags: --gpu must be auto, off or emulate, --gpu_storage fp32 or fp16");
    return 1;
  }
  if (gpu == "off" && gpu_storage == "fp16") {
    spdlog::error("bad flags: --gpu_storage=fp16 needs --gpu=auto or --gpu=emulate");
    return 1;
  }
  // A router holds no vectors: no GPU probe (it would open a CUDA context for nothing).
  const bool holds_vectors = role->data || !role->router;
  if (gpu == "auto" && holds_vectors) {
    const adanns::index::gpu::DeviceInfo device = adanns::index::gpu::Probe();
    if (device.available) {
      spdlog::info("GPU: {} ({} MiB): flat plans run there", device.name, device.total_bytes >> 20);
    } else {
      spdlog::info("no GPU ({}): searches run on the CPU", device.reason);
    }
    options.gpu.enabled = device.available;
  }
  options.gpu.emulate = gpu == "emulate";
  options.gpu.storage = gpu_storage == "fp16" ? adanns::index::gpu::Storage::kFloat16
                                              : adanns::index::gpu::Storage::kFloat32;
  options.gpu.memory_budget_bytes = absl::GetFlag(FLAGS_gpu_memory_mb) << 20;

  auto server = adanns::server::AdannsServer::Start(options);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().ToString());
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    std::ofstream(port_file + ".tmp") << (*server)->port() << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());  // readers never see half
  }
  std::unique_ptr<adanns::cluster::NodeMembership> membership;
  if (role->data) {
    absl::Status resolved =
        adanns::cluster::ResolveAdvertise(options.listen, (*server)->port(), &*role);
    if (resolved.ok()) {
      adanns::server::ReplicationOptions replication;
      replication.etcd = role->EtcdClientOptions();
      replication.cluster = role->cluster;
      replication.node_id = role->node_id;
      replication.lease_ttl = role->lease_ttl;
      replication.ack_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_replication_ack_timeout_ms));
      replication.credentials = role->shard_credentials;
      replication.cluster_key = cluster_key;
      replication.max_message_bytes = options.max_message_bytes;
      resolved = (*server)->StartReplication(std::move(replication));
    }
    absl::StatusOr<std::unique_ptr<adanns::cluster::NodeMembership>> joined =
        resolved.ok() ? adanns::cluster::NodeMembership::Start(*role, std::move(restored_maps))
                      : absl::StatusOr<std::unique_ptr<adanns::cluster::NodeMembership>>(resolved);
    if (!joined.ok()) {
      spdlog::error("cannot join cluster {}: {}", role->cluster,
                    std::string(joined.status().message()));
      (*server)->Shutdown();
      (*server)->Wait();
      return 1;
    }
    membership = std::move(*joined);
    spdlog::info("data node {} at {} joining cluster {} (etcd {})", role->node_id, role->advertise,
                 role->cluster, role_flags.etcd);
  }

  std::thread signal_waiter([&] {
    int signal = 0;
    while (read(stop_pipe[0], &signal, sizeof(signal)) < 0 && errno == EINTR) {
    }
    spdlog::info("signal {} received, shutting down", signal);
    membership.reset();  // leave the cluster before the shards stop answering
    (*server)->Shutdown();
  });
  (*server)->Wait();
  signal_waiter.join();
  return 0;
}
