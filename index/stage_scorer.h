// One stage of a search cascade: the query prefix a stage compares with (normalised for cosine)
// and block scoring of rows at that prefix as distances (smaller = better). Shared by flat search,
// the IVF list scan and every exact re-rank.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "base/metric.h"
#include "index/distance.h"
#include "index/plan.h"
#include "index/topk.h"
#include "index/vector_table.h"

namespace adanns::index {

// Most rows one Score call may take.
inline constexpr size_t kScorerBlockRows = 256;

class StageScorer {
 public:
  // Uses the first `dims` floats of `query`. `unit_rows`: the rows are an index's prefix copies
  // already normalised at exactly `dims` (cosine then needs no row norm: a dot product).
  StageScorer(Metric metric, std::span<const float> query, uint32_t dims, bool unit_rows = false);

  uint32_t dims() const { return dims_; }
  // Multiply-adds per row scored (what Score counts, and what the cost model charges).
  double flops_per_row() const { return flops_per_row_; }
  // Distances of n <= kScorerBlockRows rows (row i at rows + i * stride); inner product and
  // cosine are negated so that smaller is better everywhere.
  void Score(const float* rows, size_t stride, size_t n, float* out);
  // Converts a distance back to the metric's score.
  float ToScore(float distance) const { return metric_ == Metric::kL2 ? distance : -distance; }

 private:
  Metric metric_;
  // The kernel the rows need: cosine over unit rows is an inner product of the unit query.
  Metric kernel_metric_;
  uint32_t dims_;
  double flops_per_row_;
  std::vector<float> query_;
  const DistanceKernels& kernels_;
  std::array<float, kScorerBlockRows> norms_{};
};

// Scores n <= kScorerBlockRows rows numbered first.. (row i's values at rows + i * stride) and
// pushes those `usable(row)` accepts into `top` (checked only for rows under its threshold).
template <typename Usable>
void ScoreBlockInto(StageScorer& scorer, const float* rows, size_t stride, size_t n, RowId first,
                    const Usable& usable, TopK& top) {
  std::array<float, kScorerBlockRows> distances;
  scorer.Score(rows, stride, n, distances.data());
  const float threshold = top.threshold();
  for (size_t i = 0; i < n; ++i) {
    const RowId row = first + static_cast<RowId>(i);
    if (TopK::Admits(distances[i], threshold) && usable(row)) top.Push(distances[i], row);
  }
}

// Exact scan of table rows [0, rows) with `scorer` (at most the table's resident_dims): the best
// `keep` live rows, best first.
std::vector<ScoredRow> ScanRows(const VectorTable& table, StageScorer& scorer, size_t keep,
                                size_t rows);
// The same over rows [begin, end); `begin` is a multiple of kScorerBlockRows.
std::vector<ScoredRow> ScanRowRange(const VectorTable& table, StageScorer& scorer, size_t keep,
                                    size_t begin, size_t end);

// Scores each candidate's resident prefix in memory with `scorer` (dims <= resident_dims; decoded
// values on a quantised table) and keeps the best `keep`, best first. No storage read.
std::vector<ScoredRow> ShortlistRows(const VectorTable& table, StageScorer& scorer,
                                     std::span<const ScoredRow> candidates, size_t keep);

// Exact re-rank: scores each candidate's row in `table` with `scorer` (at its dims) and keeps the
// best `keep`, best first. When the table does not hold those dims exactly
// (VectorTable::RerankReadsStorage) the rows are read from storage in one batch
// (VectorTable::ReadFullRows); a candidate deleted meanwhile drops out.
std::vector<ScoredRow> RerankRows(const VectorTable& table, StageScorer& scorer,
                                  std::span<const ScoredRow> candidates, size_t keep);

// The last stage every index shares: when `resolved` has a re-rank, the candidates' exact
// distances at rerank_dims (best k kept, their FLOPs added to `flops`); then hits, best first,
// with the metric's scores. Without a re-rank the candidates are already the best k.
std::vector<Hit> FinishCandidates(const VectorTable& table, Metric metric,
                                  std::span<const float> query, uint32_t k, const Plan& resolved,
                                  std::vector<ScoredRow> candidates, double& flops);

}  // namespace adanns::index
