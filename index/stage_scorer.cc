// StageScorer: prefix preparation and per-metric block scoring on the dispatched kernels.
#include "index/stage_scorer.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>

#include "index/work_counter.h"

namespace adanns::index {
namespace {

std::vector<float> PrepareQuery(Metric metric, std::span<const float> query, uint32_t dims) {
  std::vector<float> prepared(query.begin(), query.begin() + dims);
  if (metric == Metric::kCosine) {
    double norm_sqr = 0;
    for (float v : prepared) norm_sqr += static_cast<double>(v) * v;
    if (norm_sqr > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(norm_sqr));
      for (float& v : prepared) v *= inv;
    }
  }
  return prepared;
}

}  // namespace

StageScorer::StageScorer(Metric metric, std::span<const float> query, uint32_t dims, bool unit_rows)
    : metric_(metric),
      kernel_metric_(metric == Metric::kCosine && unit_rows ? Metric::kInnerProduct : metric),
      dims_(dims),
      flops_per_row_(unit_rows ? double(dims) : TableRowFlops(metric, dims)),
      query_(PrepareQuery(metric, query, dims)),
      kernels_(BestKernels()) {}

void StageScorer::Score(const float* rows, size_t stride, size_t n, float* out) {
  // Counted by what each kernel computes per row, independently of the cost model's formula.
  const uint64_t per_dim_pass = uint64_t{n} * dims_;
  switch (kernel_metric_) {
    case Metric::kL2:
      kernels_.l2_sqr(query_.data(), rows, stride, n, dims_, out);
      CountMultiplyAdds(per_dim_pass);
      return;
    case Metric::kInnerProduct:
      kernels_.dot(query_.data(), rows, stride, n, dims_, out);
      CountMultiplyAdds(per_dim_pass);
      for (size_t i = 0; i < n; ++i) out[i] = -out[i];
      return;
    case Metric::kCosine:
      kernels_.dot_and_norm(query_.data(), rows, stride, n, dims_, out, norms_.data());
      CountMultiplyAdds(2 * per_dim_pass);  // the dot product and the row's squared norm
      for (size_t i = 0; i < n; ++i) {
        out[i] = norms_[i] > 0 ? -out[i] / std::sqrt(norms_[i]) : 0.0f;
      }
      return;
  }
}

std::vector<ScoredRow> ScanRows(const VectorTable& table, StageScorer& scorer, size_t keep,
                                size_t rows) {
  return ScanRowRange(table, scorer, keep, 0, rows);
}

std::vector<ScoredRow> ScanRowRange(const VectorTable& table, StageScorer& scorer, size_t keep,
                                    size_t first, size_t rows) {
  assert(first % kScorerBlockRows == 0);
  assert(scorer.dims() <= table.resident_dims());  // plans never scan above the resident prefix
  TopK top(keep);
  // Each block starts at a multiple of kScorerBlockRows, so its rows are contiguous in the table.
  static_assert(VectorTable::kContiguousRows % kScorerBlockRows == 0);
  const auto live = [&table](RowId row) { return table.IsLive(row); };
  // A quantised table's block is decoded here first (kDecodeBlockRows x dims stays in cache).
  static_assert(kScorerBlockRows <= kDecodeBlockRows);
  std::vector<float> decoded(
      table.stored_precision() == Precision::kFloat32 ? 0 : kScorerBlockRows * scorer.dims());
  for (size_t begin = first; begin < rows; begin += kScorerBlockRows) {
    const size_t n = std::min(kScorerBlockRows, rows - begin);
    const auto row = static_cast<RowId>(begin);
    size_t stride = 0;
    const float* block = table.BlockPrefix(row, n, scorer.dims(), decoded.data(), stride);
    ScoreBlockInto(scorer, block, stride, n, row, live, top);
  }
  return top.TakeSorted();
}

namespace {

// A re-rank above the resident prefix: the candidates' full vectors in one read from storage,
// then scored from that buffer. A candidate storage no longer holds (deleted meanwhile) drops out;
// a failed read leaves no candidates (the failure is in tls_fetch_ledger for the caller).
std::vector<ScoredRow> RerankFetched(const VectorTable& table, StageScorer& scorer,
                                     std::span<const ScoredRow> candidates, size_t keep) {
  std::vector<RowId> rows(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) rows[i] = candidates[i].row;
  const uint32_t dim = table.dim();
  std::vector<float> vectors(rows.size() * size_t{dim});
  std::vector<uint8_t> found;
  TopK top(keep);
  if (!table.ReadFullRows(rows, vectors.data(), found).ok()) return top.TakeSorted();
  float distance;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!found[i]) continue;
    scorer.Score(vectors.data() + i * dim, dim, 1, &distance);
    top.Push(distance, rows[i]);
  }
  return top.TakeSorted();
}

}  // namespace

std::vector<ScoredRow> RerankRows(const VectorTable& table, StageScorer& scorer,
                                  std::span<const ScoredRow> candidates, size_t keep) {
  if (table.RerankReadsStorage(scorer.dims())) {
    return RerankFetched(table, scorer, candidates, keep);
  }
  return ShortlistRows(table, scorer, candidates, keep);
}

std::vector<ScoredRow> ShortlistRows(const VectorTable& table, StageScorer& scorer,
                                     std::span<const ScoredRow> candidates, size_t keep) {
  const uint32_t dims = scorer.dims();
  assert(dims <= table.resident_dims());
  TopK top(keep);
  float distance;
  if (table.stored_precision() != Precision::kFloat32) {
    std::vector<float> decoded(dims);
    for (const ScoredRow& candidate : candidates) {
      scorer.Score(table.RowPrefix(candidate.row, dims, decoded.data()), dims, 1, &distance);
      top.Push(distance, candidate.row);
    }
    return top.TakeSorted();
  }
  // Candidates are scattered rows: request the next ones' prefixes while scoring this one.
  constexpr size_t kAhead = 2;
  auto prefetch = [&](size_t i) {
    if (i < candidates.size()) {
      PrefetchPrefix(table.RowPrefix(candidates[i].row, dims, nullptr), dims);
    }
  };
  for (size_t i = 0; i < kAhead; ++i) prefetch(i);
  for (size_t i = 0; i < candidates.size(); ++i) {
    prefetch(i + kAhead);
    scorer.Score(table.RowPrefix(candidates[i].row, dims, nullptr), dims, 1, &distance);
    top.Push(distance, candidates[i].row);
  }
  return top.TakeSorted();
}

std::vector<Hit> FinishCandidates(const VectorTable& table, Metric metric,
                                  std::span<const float> query, uint32_t k, const Plan& resolved,
                                  std::vector<ScoredRow> candidates, double& flops) {
  if (resolved.has_rerank()) {
    flops += double(candidates.size()) * TableRowFlops(metric, *resolved.rerank_dims);
    StageScorer rerank(metric, query, *resolved.rerank_dims);
    candidates = RerankRows(table, rerank, candidates, k);
  }
  // Every stage's distances negate similarities (smaller is better everywhere).
  std::vector<Hit> hits;
  hits.reserve(candidates.size());
  for (const ScoredRow& entry : candidates) {
    hits.push_back(
        {table.IdOf(entry.row), metric == Metric::kL2 ? entry.distance : -entry.distance});
  }
  return hits;
}

}  // namespace adanns::index
