// HostMirrorScorer: row-indexed copies, scored block by block with StageScorer.
#include "index/host_mirror_scorer.h"

#include <algorithm>
#include <array>

#include "base/status_macros.h"
#include "index/float16.h"
#include "index/stage_scorer.h"
#include "index/topk.h"

namespace adanns::index {

absl::Status HostMirrorScorer::SetRows(std::span<const RowId> rows, const float* values,
                                       uint32_t dim) {
  if (dim < resident_dims_) {
    return absl::InvalidArgumentError("rows are shorter than the resident prefix");
  }
  if (float16_) RETURN_IF_ERROR(CheckRowsFitFloat16(rows, values, dim, resident_dims_));
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= live_.size()) {
      live_.resize(size_t{rows[i]} + 1, 0);
      values_.resize(live_.size() * resident_dims_, 0.0f);
    }
    float* kept = values_.data() + size_t{rows[i]} * resident_dims_;
    std::copy_n(values + i * dim, resident_dims_, kept);
    if (float16_) std::transform(kept, kept + resident_dims_, kept, RoundToFloat16);
    live_[rows[i]] = 1;
  }
  return absl::OkStatus();
}

absl::Status HostMirrorScorer::ClearRows(std::span<const RowId> rows) {
  std::lock_guard lock(mutex_);
  for (RowId row : rows) {
    if (row < live_.size()) live_[row] = 0;
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchTopK> HostMirrorScorer::Scan(const QueryBatch& queries, uint32_t dims,
                                                 uint32_t k, size_t row_limit) {
  if (absl::Status s = CheckBatchRequest(*this, queries, dims, k); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  BatchTopK out;
  out.Reset(queries.count, k);
  const size_t rows = std::min(row_limit, live_.size());
  std::array<float, kScorerBlockRows> distances;
  for (size_t q = 0; q < queries.count; ++q) {
    StageScorer scorer(metric_, {queries.query(q), dims}, dims);
    TopK top(k);
    for (size_t begin = 0; begin < rows; begin += kScorerBlockRows) {
      const size_t n = std::min(kScorerBlockRows, rows - begin);
      scorer.Score(Row(static_cast<RowId>(begin)), resident_dims_, n, distances.data());
      for (size_t i = 0; i < n; ++i) {
        if (live_[begin + i]) top.Push(distances[i], static_cast<RowId>(begin + i));
      }
    }
    out.Set(q, top.TakeSorted());
  }
  return out;
}

absl::StatusOr<BatchTopK> HostMirrorScorer::ScoreCandidates(const QueryBatch& queries,
                                                            uint32_t dims,
                                                            const CandidateLists& candidates,
                                                            uint32_t k) {
  if (absl::Status s = CheckBatchRequest(*this, queries, dims, k); !s.ok()) return s;
  if (candidates.queries() != queries.count) {
    return absl::InvalidArgumentError("one candidate list per query is needed");
  }
  std::lock_guard lock(mutex_);
  BatchTopK out;
  out.Reset(queries.count, k);
  float distance;
  for (size_t q = 0; q < queries.count; ++q) {
    StageScorer scorer(metric_, {queries.query(q), dims}, dims);
    TopK top(k);
    for (uint64_t i = candidates.offsets[q]; i < candidates.offsets[q + 1]; ++i) {
      const RowId row = candidates.rows[i];
      if (row >= live_.size() || !live_[row]) continue;
      scorer.Score(Row(row), resident_dims_, 1, &distance);
      top.Push(distance, row);
    }
    out.Set(q, top.TakeSorted());
  }
  return out;
}

}  // namespace adanns::index
