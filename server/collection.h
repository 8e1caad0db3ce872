// One collection in memory: its metadata, the vector table searches run on, its AdANNS-IVF index
// (built in the background), and the write path that commits to RocksDB (synced) before a change
// becomes visible.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "index/ivf_index.h"
#include "index/plan.h"
#include "index/vector_table.h"
#include "storage/collection_meta.h"
#include "storage/rocks_store.h"

namespace adanns::server {

inline constexpr char kIvfIndexName[] = "ivf";
// A rebuild is advised once the collection grew by more than this fraction since the build.
inline constexpr double kRebuildAdvisedGrowth = 0.2;

// What DescribeCollection shows of an index.
struct IndexStatus {
  std::string name;
  std::string state;  // "building", "ready", "failed", "cancelled"
  double progress = 0;
  std::string error;
  double build_seconds = 0;
  uint64_t memory_bytes = 0;
  int64_t vectors_added_since_build = 0;
  bool rebuild_advised = false;
  std::vector<std::pair<std::string, double>> params;
};

struct CollectionOptions {
  // OpenMP threads one background build may use.
  // Default: 1.
  int build_threads = 1;
  // Called (from the build thread) whenever an index's state changes; may be empty.
  std::function<void(const std::string& collection, const IndexStatus&)> on_index_change;
};

class Collection {
 public:
  Collection(storage::CollectionMeta meta, storage::RocksStore* store, CollectionOptions options)
      : meta_(std::move(meta)), store_(store), options_(std::move(options)), table_(meta_.dim) {}
  ~Collection();

  // Loads every stored vector, then the stored IVF (re-assigned, not retrained). A corrupt IVF
  // blob is reported in the index status, not fatal.
  absl::Status Load();

  const storage::CollectionMeta& meta() const { return meta_; }
  size_t size() const;
  size_t vector_memory_bytes() const;

  // Commits ids.size() vectors (row-major in `values`, already validated) as one synced batch,
  // then applies them to the table and the IVF. NOT_FOUND once the collection is dropped.
  absl::Status Upsert(std::span<const uint64_t> ids, std::span<const float> values);
  // Deletes the ids that exist (one synced batch); returns how many did.
  absl::StatusOr<uint64_t> Delete(std::span<const uint64_t> ids);
  // Copies stored vectors; `missing` receives absent ids. Both in request order.
  void Get(std::span<const uint64_t> ids,
           std::vector<std::pair<uint64_t, std::vector<float>>>* found,
           std::vector<uint64_t>* missing) const;

  // Chooses and runs a plan for each of `num_queries` queries of `query_dims` floats.
  absl::StatusOr<std::vector<index::SearchResult>> Search(std::span<const float> queries,
                                                          uint32_t query_dims, size_t num_queries,
                                                          uint32_t k, const index::Budget& budget,
                                                          size_t threads) const;

  // Starts a background IVF build; its status is "building" until it is published (or fails).
  // FAILED_PRECONDITION while a build runs or when the collection is empty; INVALID_ARGUMENT for
  // parameters the collection cannot take.
  absl::StatusOr<IndexStatus> StartIvfBuild(const index::IvfBuildParams& params);
  // Drops the IVF (cancelling a running build) and its stored blob. NOT_FOUND without one.
  absl::Status DropIvf();
  // Every index: "flat", then "ivf" when one exists or was attempted.
  std::vector<IndexStatus> Indexes() const;

  // Refuses further writes and stops a running build; called by the engine before the store
  // drops the data.
  void MarkDropped();

 private:
  absl::Status CheckNotDropped() const;
  void RunIvfBuild(index::IvfBuildParams params);
  // Publishes a finished build: persists the blob, replays the writes made meanwhile, swaps it in.
  absl::Status PublishIvf(std::unique_ptr<index::IvfIndex> built);
  void StopBuild();
  void SetBuildState(const std::string& state, const std::string& error);
  IndexStatus IvfStatusLocked() const;  // needs build_mutex_ and a table hold

  const storage::CollectionMeta meta_;
  storage::RocksStore* store_;  // not owned; outlives every collection
  const CollectionOptions options_;

  // Serialises writers so RocksDB order and table order agree.
  mutable std::mutex write_mutex_;
  bool dropped_ = false;  // guarded by write_mutex_

  // Searches share, writers apply under exclusive hold (only after the synced commit).
  mutable std::shared_mutex table_mutex_;
  index::VectorTable table_;
  std::unique_ptr<index::IvfIndex> ivf_;  // guarded by table_mutex_
  // While a build runs, every row a writer touches, to replay into the new index.
  bool log_writes_ = false;                 // guarded by table_mutex_
  std::vector<index::RowId> written_rows_;  // guarded by table_mutex_

  // Serialises StartIvfBuild, DropIvf and MarkDropped (never taken by the build thread).
  std::mutex lifecycle_mutex_;
  // The IVF's lifecycle as DescribeCollection shows it.
  mutable std::mutex build_mutex_;
  std::string ivf_state_;  // "" = never built or loaded
  std::string ivf_error_;
  double ivf_build_seconds_ = 0;
  std::atomic<double> ivf_progress_{0};
  std::atomic<bool> cancel_build_{false};
  std::thread build_thread_;  // joined by StopBuild
};

}  // namespace adanns::server
