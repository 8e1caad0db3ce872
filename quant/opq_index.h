// AdANNS-OPQ as a served index: one codebook (OPQ + PQ on a prefix, M bytes per vector) and the
// code of every live row. Two plans use it:
// - "opq": ADC over every code, the best rerank_candidates re-ranked exactly from the full vectors;
// - "ivf_opq": the IVF's probed lists (a CandidateSource) scored with the codes, then the same
//   re-rank, so the scan stage reads M bytes per candidate instead of a float prefix.
// rerank_candidates = 0 turns the re-rank off (results carry ADC distances).
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
#include "index/served_index.h"
#include "index/topk.h"
#include "quant/opq_codebook.h"

namespace adanns::quant {

struct OpqBuildParams {
  CodebookSpec spec;
  // Vectors sampled to train. Default (0): min(N, 25600), 100 per centroid.
  uint32_t training_sample = 0;
  // Outer OPQ iterations. Default: 10.
  uint32_t opq_iterations = 10;
  uint64_t seed = 1234;
};

// Build parameters as bytes (to restart a build a crash interrupted); DATA_LOSS on bad bytes.
std::string EncodeOpqBuildParams(const OpqBuildParams& params);
absl::StatusOr<OpqBuildParams> DecodeOpqBuildParams(std::string_view bytes);

// Bytes per vector by component, for DescribeCollection and the harness.
struct OpqStats {
  uint64_t coded_vectors = 0;
  size_t code_bytes = 0;         // M per row slot
  size_t bookkeeping_bytes = 0;  // id, prefix checksum and a coded flag per row slot (13)
  size_t codebook_bytes = 0;     // rotation and centroids
  double train_seconds = 0, encode_seconds = 0;
};

class OpqIndex : public index::ServedIndex, public index::CandidateScorer {
 public:
  // Trains on a sample of live rows, then encodes every live row (held-out rows do neither).
  // `cancel` (may be null) stops it with CANCELLED between phases and chunks.
  static absl::StatusOr<std::unique_ptr<OpqIndex>> Build(const index::TableAccess& access,
                                                         Metric metric,
                                                         const OpqBuildParams& params,
                                                         const index::Progress& progress = nullptr,
                                                         const std::atomic<bool>* cancel = nullptr,
                                                         const index::HeldOutRows& held_out = {});
  static absl::StatusOr<std::unique_ptr<OpqIndex>> Build(const index::VectorTable& table,
                                                         Metric metric,
                                                         const OpqBuildParams& params);

  std::string_view kind() const override { return "opq"; }
  std::string_view name() const override { return name_; }
  const index::CandidateScorer* candidate_scorer() const override { return this; }

  // "opq" plans: search_dims is the codebook's prefix (fixed); re-rank at the full dim with
  // max(20k, 200) candidates unless rerank_candidates says otherwise (0 = off).
  absl::StatusOr<index::Plan> ResolvePlan(const index::Plan& requested, uint32_t k) const override;
  index::SearchResult Search(const index::VectorTable& table, std::span<const float> query,
                             uint32_t k, const index::Plan& resolved) const override;
  // "ivf_opq" plans over `source`'s candidates.
  absl::StatusOr<index::Plan> ResolvePlan(const index::Plan& requested, uint32_t k,
                                          const index::CandidateSource& source) const override;
  index::SearchResult Search(const index::VectorTable& table, std::span<const float> query,
                             uint32_t k, const index::Plan& resolved,
                             const index::CandidateSource& source) const override;

  void Upsert(const index::VectorTable& table, index::RowId row) override;
  void Remove(index::RowId row, uint64_t id) override;
  // The insert split like a graph's: Prepare encodes the row (reads only, beside searches), Apply
  // stores its code. Prepare needs the codebook's prefix, which may exceed the resident one.
  uint32_t upsert_dims() const override { return params_.spec.prefix_dims; }
  std::unique_ptr<index::PreparedUpsert> PrepareUpsert(uint64_t id,
                                                       std::span<const float> vector) override;
  void ApplyUpsert(const index::VectorTable& table, index::RowId row,
                   std::unique_ptr<index::PreparedUpsert> prepared) override;

  // Codebook and (id, prefix checksum, code) per vector: a load re-encodes only the vectors
  // written after the blob.
  absl::StatusOr<std::string> Serialize() const override;
  static absl::StatusOr<std::unique_ptr<OpqIndex>> Deserialize(std::string_view bytes,
                                                               const index::VectorTable& table,
                                                               Metric metric);

  size_t memory_bytes() const override;
  uint64_t trained_vectors() const override { return trained_vectors_; }
  std::vector<std::pair<std::string, double>> described_params() const override;
  OpqStats stats() const;
  const OpqCodebook& codebook() const { return codebook_; }

 private:
  class Query;  // a query's rotated prefix, ADC table and candidate selection

  OpqIndex(Metric metric, uint32_t dim, OpqBuildParams params, OpqCodebook codebook);
  // Grows the per-row arrays to `rows` slots.
  void Reserve(size_t rows);
  void Stamp(index::RowId row, uint64_t id, uint32_t prefix_crc);
  size_t BookkeepingBytes() const;
  // Encodes rows [begin, end) of `table` (dead rows get no code); a prefix above the resident
  // one is read from storage (its error returned).
  absl::Status EncodeRange(const index::VectorTable& table, index::RowId begin, index::RowId end,
                           const index::HeldOutRows& held_out = {});
  // The codebook's input for one row or query: its prefix, normalised for cosine.
  void PreparePrefix(const float* vector, float* out) const;
  absl::StatusOr<index::Plan> ResolveRerank(index::Plan plan, uint32_t k) const;
  // FLOPs of a query's rotation and ADC table build.
  double SetupFlops() const;
  // The re-rank after a scan; `fixed_flops` are what the search spent besides the codes.
  index::SearchResult Finish(const index::VectorTable& table, std::span<const float> query,
                             uint32_t k, const index::Plan& resolved, Query& scan,
                             double fixed_flops) const;

  Metric metric_;
  uint32_t dim_;
  OpqBuildParams params_;  // resolved
  std::string name_;
  OpqCodebook codebook_;
  // By RowId: m code bytes, the id and the checksum of the prefix encoded (for the blob), and
  // whether the slot holds a live row's code (scans skip the others).
  std::vector<uint8_t> codes_;
  std::vector<uint64_t> ids_;
  std::vector<uint32_t> prefix_crcs_;
  std::vector<uint8_t> coded_;
  uint64_t trained_vectors_ = 0;
  double train_seconds_ = 0, encode_seconds_ = 0;
};

}  // namespace adanns::quant
