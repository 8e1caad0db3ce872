// AdANNS-HNSW: a navigable small-world graph over a short prefix (graph_dims) of each vector, with
// an exact re-rank of the best candidates at a longer prefix (the MRL / AdANNS graph composite).
//
// Debian's hnswlib builds and stores the graph (its insert is well tuned and parallel); it stays
// behind this interface. Searches run our own loop over its level lists: per-request ef (hnswlib
// keeps ef in the index, a race between requests), our run-time dispatched distance kernels,
// distance computations counted for the cost model, and software prefetch of neighbours.
// Thread safety: searches only read; Upsert, ApplyUpsert and Remove need the caller's exclusive
// hold (our walk reads link lists without locks); PrepareUpsert only reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/held_out.h"
#include "index/plan.h"
#include "index/served_index.h"
#include "index/vector_table.h"

namespace adanns::index {

struct HnswBuildParams {
  // Prefix the graph is built and searched on. Default (0): min(dim, 128).
  uint32_t graph_dims = 0;
  // Links per node per layer (2 * M on the bottom layer). Default: 16.
  uint32_t m = 16;
  // Beam width while inserting. Default: 100.
  uint32_t ef_construction = 100;
  // Seed of the level draw. Default: 100.
  uint64_t seed = 100;
};

// Build parameters as bytes (see EncodeBuildParams in ivf_index.h).
std::string EncodeHnswBuildParams(const HnswBuildParams& params);
absl::StatusOr<HnswBuildParams> DecodeHnswBuildParams(std::string_view bytes);

struct HnswStats {
  uint32_t graph_dims = 0, m = 0;
  uint64_t nodes = 0;    // graph nodes, deleted ones included
  uint64_t deleted = 0;  // nodes marked deleted (filtered from results, still routed through)
  uint64_t trained_vectors = 0;
  size_t graph_bytes = 0;  // links and the stored prefixes
  // Times the full graph grew: from a copy made in UpkeepStep (beside searches), or reallocated
  // inside an insert's exclusive hold (inserts without upkeep steps, e.g. a build's replay).
  uint64_t growths_swapped_in = 0, growths_in_hold = 0;
  bool growing = false;  // a growth is copied or being copied, not yet swapped in
};

class HnswIndex : public ServedIndex {
 public:
  ~HnswIndex() override;

  // Inserts every live row's graph_dims prefix (but the held-out ones) with `threads` OpenMP
  // threads, reading the table in chunks through `access`. `cancel` (may be null) stops the build
  // with CANCELLED.
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Build(const TableAccess& access, Metric metric,
                                                          const HnswBuildParams& params,
                                                          int threads,
                                                          const Progress& progress = nullptr,
                                                          const std::atomic<bool>* cancel = nullptr,
                                                          const HeldOutRows& held_out = {});
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Build(const VectorTable& table, Metric metric,
                                                          const HnswBuildParams& params,
                                                          int threads);

  // A new row is linked into the graph; a changed one is re-linked at its new prefix; a removed
  // id is marked deleted (never returned, still used for routing).
  void Upsert(const VectorTable& table, RowId row) override;
  void Remove(RowId row, uint64_t id) override;
  // A new id while no node is marked deleted: Prepare runs the insert's layer searches at
  // ef_construction, Apply allocates the node and links it. Other cases (a changed id, reuse of a
  // deleted node, the first node) are left whole to Apply.
  std::unique_ptr<PreparedUpsert> PrepareUpsert(uint64_t id,
                                                std::span<const float> vector) override;
  // A graph nearly full grows: its arrays are copied into bigger ones a few MB per step, and the
  // next insert swaps them in.
  bool UpkeepStep() override;
  void ApplyUpsert(const VectorTable& table, RowId row,
                   std::unique_ptr<PreparedUpsert> prepared) override;

  // Defaults: ef = max(64, k); re-rank at the full dim of all ef candidates when graph_dims < dim.
  // ef is raised to rerank_candidates (the beam must hold them) and to k. search_dims is the
  // graph's (it cannot change per request); coarse_dims and nprobe are refused.
  absl::StatusOr<Plan> ResolvePlan(const Plan& requested, uint32_t k) const override;
  // Cost: distance computations x graph_dims + candidates re-ranked x rerank_dims.
  SearchResult Search(const VectorTable& table, std::span<const float> query, uint32_t k,
                      const Plan& resolved) const override;

  std::string_view kind() const override { return "hnsw"; }
  size_t memory_bytes() const override;
  uint64_t trained_vectors() const override { return trained_vectors_; }
  std::vector<std::pair<std::string, double>> described_params() const override;
  HnswStats stats() const;
  const HnswBuildParams& params() const { return params_; }

  // Parameters and the graph (links and prefixes, labelled by id) with a format version and a
  // CRC-32.
  absl::StatusOr<std::string> Serialize() const override;
  // Restores the graph, then reconciles it with `table`: ids written or deleted after the blob
  // was made are re-linked or marked deleted, so a restart loses no write. DATA_LOSS for a
  // corrupt, truncated or foreign blob.
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Deserialize(std::string_view bytes,
                                                                const VectorTable& table,
                                                                Metric metric);

 private:
  struct Graph;  // hnswlib types stay in the .cc

  HnswIndex(Metric metric, uint32_t dim, HnswBuildParams params);
  // Copies the graph_dims prefix of `row` (normalised for cosine) into `out`.
  void PreparePrefix(const float* row, float* out) const;
  void Link(const float* prefix, uint64_t id);
  struct PreparedLink;

  Metric metric_;
  uint32_t dim_;
  HnswBuildParams params_;  // resolved: graph_dims set
  std::unique_ptr<Graph> graph_;
  uint64_t trained_vectors_ = 0;
};

}  // namespace adanns::index
