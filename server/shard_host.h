// The shards a data node hosts. Each is a complete single-node collection in its own RocksDB under
// <root>/<collection>/<shard> (its own WAL: what replication will tail), served by its own
// AdannsService, so a shard validates, plans and searches exactly as a standalone server does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "adanns/v1/adanns.pb.h"
#include "server/engine.h"
#include "server/grpc_service.h"
#include "server/metrics.h"

namespace adanns::server {

// One hosted shard. The service is declared after the engine, so it (and its worker pools) goes
// first. A dropped shard deletes its directory once the last request holding it is done.
class HostedShard {
 public:
  HostedShard(std::string collection, uint32_t shard, std::string path,
              std::unique_ptr<Engine> engine, Metrics* metrics, const ServiceOptions& options);
  ~HostedShard();

  const std::string& collection() const { return collection_; }
  const std::string& path() const { return path_; }
  uint32_t shard() const { return shard_; }
  AdannsService& service() { return *service_; }
  Engine& engine() { return *engine_; }
  void MarkDropped() { dropped_ = true; }

 private:
  const std::string collection_;
  const uint32_t shard_;
  const std::string path_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<AdannsService> service_;
  bool dropped_ = false;
};

struct ShardHostOptions {
  // Directory of the shards (<data_dir>/shards), created when missing.
  std::string root;
  // Every shard's RocksDB. block_cache (when set) is shared by all of them.
  storage::StoreOptions store;
  CollectionOptions collection;
  ServiceOptions service;
  Metrics* metrics = nullptr;
};

class ShardHost {
 public:
  // Opens every shard found under root.
  static absl::StatusOr<std::unique_ptr<ShardHost>> Open(ShardHostOptions options);

  // Creates the shard. A shard already held with the same dim, metric, nesting dims and storage
  // options is returned as is (retries are safe); ALREADY_EXISTS when held with another spec.
  absl::StatusOr<std::shared_ptr<HostedShard>> Create(const v1::CreateCollectionRequest& spec,
                                                      uint32_t shard);
  // NOT_FOUND naming the collection and shard.
  absl::StatusOr<std::shared_ptr<HostedShard>> Find(const std::string& collection,
                                                    uint32_t shard) const;
  // Drops the shard's collection and, once idle, its directory; returns how many vectors it held.
  absl::StatusOr<uint64_t> Drop(const std::string& collection, uint32_t shard);
  std::vector<std::shared_ptr<HostedShard>> List() const;
  // Replaces the shard's store with the one in `incoming` (a full copy from its primary, a
  // directory beside the shard's): the shard leaves the map (its calls get NOT_FOUND meanwhile),
  // its last user lets go (waited for, bounded), the directories are swapped and the copy is
  // opened. On failure before the swap the old shard is put back.
  absl::StatusOr<std::shared_ptr<HostedShard>> ReplaceWithCopy(const std::string& collection,
                                                               uint32_t shard,
                                                               const std::string& incoming);

 private:
  explicit ShardHost(ShardHostOptions options) : options_(std::move(options)) {}
  std::string ShardPath(const std::string& collection, uint32_t shard) const;
  // The collection options of a shard: the node's, with the shard in its metric labels.
  CollectionOptions CollectionOptionsFor(uint32_t shard) const;
  absl::StatusOr<std::shared_ptr<HostedShard>> OpenShard(const std::string& collection,
                                                         uint32_t shard);

  const ShardHostOptions options_;
  std::mutex ddl_mutex_;          // serialises create and drop
  mutable std::mutex map_mutex_;  // guards shards_ (held briefly)
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<HostedShard>> shards_;
};

}  // namespace adanns::server
