// AdANNS-IVF: k-means on the coarse_dims prefix (d_c), inverted lists holding each member's
// search_dims prefix (d_s) contiguously (fp16 on an fp16 table, whose values they copy exactly;
// else fp32), and an exact re-rank from the full vectors. d_c and d_s are independent; a query
// may rank centroids on a shorter prefix than d_c (AdANNS-IVF-D).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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
#include "index/topk.h"
#include "index/vector_table.h"

namespace adanns::index {

struct IvfBuildParams {
  // Number of lists. Default (0): about 4 * sqrt(N), at least 1.
  uint32_t nlist = 0;
  // Prefix k-means runs on and centroids keep (d_c). Default (0): min(dim, 64).
  uint32_t coarse_dims = 0;
  // Prefix stored in the lists and scanned (d_s). Default (0): min(dim, 128).
  uint32_t search_dims = 0;
  // Lloyd iterations. Default: 20.
  uint32_t kmeans_iterations = 20;
  // Vectors sampled to train k-means. Default (0): min(N, 256 * nlist).
  uint32_t training_sample = 0;
  // Seed of the sample and the k-means initialisation. Default: 1234.
  uint64_t seed = 1234;
};

// Build parameters as bytes (the server records a running build's request, to restart it after
// a crash). Decode: DATA_LOSS for anything Encode did not write.
std::string EncodeBuildParams(const IvfBuildParams& params);
absl::StatusOr<IvfBuildParams> DecodeBuildParams(std::string_view bytes);

// Per-list statistics and memory, for DescribeCollection and the harness.
struct IvfStats {
  uint32_t nlist = 0, coarse_dims = 0, search_dims = 0;
  uint64_t vectors = 0;
  uint64_t trained_vectors = 0;  // vectors the collection held when the build started
  size_t largest_list = 0;
  size_t centroid_bytes = 0, list_vector_bytes = 0, list_id_bytes = 0;
};

class IvfIndex : public ServedIndex, public CandidateSource {
 public:
  using Progress = index::Progress;
  using TableAccess = index::TableAccess;

  // Trains k-means on a sample of the coarse prefixes and assigns every live row (held-out rows
  // neither train nor join a list). `progress` gets
  // fractions in [0, 1]; `cancel` (may be null) stops the build with CANCELLED.
  static absl::StatusOr<std::unique_ptr<IvfIndex>> Build(const TableAccess& access, Metric metric,
                                                         const IvfBuildParams& params,
                                                         const Progress& progress = nullptr,
                                                         const std::atomic<bool>* cancel = nullptr,
                                                         const HeldOutRows& held_out = {});
  // The same over a table nobody writes meanwhile.
  static absl::StatusOr<std::unique_ptr<IvfIndex>> Build(const VectorTable& table, Metric metric,
                                                         const IvfBuildParams& params,
                                                         const Progress& progress = nullptr,
                                                         const std::atomic<bool>* cancel = nullptr);

  // Keeps the lists in step with the table (the caller holds the table's write lock): a new row
  // goes into its nearest list, a replaced row moves, a removed row leaves its list.
  void Upsert(const VectorTable& table, RowId row) override;
  void Remove(RowId row, uint64_t id) override { RemoveRow(row); }
  // The insert split like a graph's: Prepare ranks the centroids (reads only, beside searches),
  // Apply moves the row into that list (a copy of its search prefix).
  std::unique_ptr<PreparedUpsert> PrepareUpsert(uint64_t id,
                                                std::span<const float> vector) override;
  void ApplyUpsert(const VectorTable& table, RowId row,
                   std::unique_ptr<PreparedUpsert> prepared) override;

  // Fills the IVF defaults (coarse_dims = d_c, search_dims = d_s, nprobe = max(1, nlist / 16);
  // re-rank at the full dim with max(10k, 100) candidates when d_s < dim) and validates the plan
  // against what this index holds. INVALID_ARGUMENT names the field.
  absl::StatusOr<Plan> ResolvePlan(const Plan& requested, uint32_t k) const override;
  // Runs a resolved plan; the cost is measured (lists actually scanned).
  SearchResult Search(const VectorTable& table, std::span<const float> query, uint32_t k,
                      const Plan& resolved) const override;

  // The probed lists as a composite plan's first stage ("ivf_opq").
  const CandidateSource* candidate_source() const override { return this; }
  absl::Status ResolveCandidates(Plan& plan) const override;
  double SelectionFlops(const Plan& resolved) const override;
  void ForEachCandidateGroup(
      std::span<const float> query, const Plan& resolved,
      const std::function<bool(std::span<const RowId>)>& visit) const override;

  std::string_view kind() const override { return "ivf"; }
  size_t memory_bytes() const override;
  uint64_t trained_vectors() const override { return trained_vectors_; }
  std::vector<std::pair<std::string, double>> described_params() const override;
  IvfStats stats() const;
  const IvfBuildParams& params() const { return params_; }

  // The trained state (parameters and centroids) with a format version and a CRC-32. List
  // membership is not stored: it is a function of the centroids and the vectors, so a loaded
  // index can never disagree with the store, whatever was written after the blob.
  absl::StatusOr<std::string> Serialize() const override;
  // Loads the centroids and assigns every live row of `table` (no k-means). DATA_LOSS for a
  // corrupt, truncated or foreign blob.
  static absl::StatusOr<std::unique_ptr<IvfIndex>> Deserialize(std::string_view bytes,
                                                               const VectorTable& table,
                                                               Metric metric);

 private:
  struct List {
    std::vector<RowId> rows;
    // search_dims values per member, in rows' order, at list_precision_ (value_bytes_ each).
    std::vector<uint8_t> values;
  };
  struct Location {
    uint32_t list = kNoList;
    uint32_t position = 0;
  };
  static constexpr uint32_t kNoList = UINT32_MAX;

  IvfIndex(Metric metric, uint32_t dim, IvfBuildParams params, std::vector<float> centroids,
           Precision table_precision);

  // Assigns the live rows in [begin, end) to their nearest lists (batched, BLAS).
  absl::Status AssignRange(const VectorTable& table, RowId begin, RowId end,
                           const HeldOutRows& held_out = {});
  uint32_t NearestList(const float* vector) const;
  // The plan's nprobe lists nearest the query's coarse prefix, nearest first.
  std::vector<ScoredRow> ProbeLists(std::span<const float> query, const Plan& resolved) const;
  void RemoveRow(RowId row);
  // Gives back the lists' unused capacity (after a build or load).
  void TrimLists();
  void Append(const VectorTable& table, RowId row, uint32_t list);
  // Writes the row's search_dims prefix into a list slot, encoded at list_precision_.
  void StorePrefix(const VectorTable& table, RowId row, uint8_t* slot) const;
  // Puts `row` in `list` (refreshing its prefix when it is there already).
  void Place(const VectorTable& table, RowId row, uint32_t list);

  Metric metric_;
  uint32_t dim_;
  IvfBuildParams params_;         // resolved: nlist, coarse_dims and search_dims set
  std::vector<float> centroids_;  // nlist x coarse_dims
  std::vector<List> lists_;
  std::vector<Location> location_;  // by RowId
  uint64_t trained_vectors_ = 0;
  // fp16 on an fp16 table (its values are in fp16's range and already rounded: the copy loses
  // nothing), else fp32.
  Precision list_precision_;
  size_t value_bytes_;
};

}  // namespace adanns::index
