// CpuBatchScorer: each query runs the same scan / re-rank as the single-query paths.
#include "index/cpu_batch_scorer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "index/flat_search.h"
#include "index/float16.h"
#include "index/stage_scorer.h"

namespace adanns::index {

absl::Status CheckBatchRequest(const BatchScorer& scorer, const QueryBatch& queries, uint32_t dims,
                               uint32_t k) {
  if (dims == 0 || dims > scorer.resident_dims()) {
    return absl::InvalidArgumentError(absl::StrCat("dims must be in 1..", scorer.resident_dims(),
                                                   " on ", scorer.device_name(), ", got ", dims));
  }
  if (k == 0 || k > scorer.max_k()) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in 1..", scorer.max_k(), " on ",
                                                   scorer.device_name(), ", got ", k));
  }
  if (queries.count > 0 && (queries.data == nullptr || queries.stride < dims)) {
    return absl::InvalidArgumentError(
        absl::StrCat("queries hold ", queries.stride, " floats each, fewer than dims ", dims));
  }
  return absl::OkStatus();
}

absl::Status CheckRowsFitFloat16(std::span<const RowId> rows, const float* values, uint32_t dim,
                                 uint32_t resident_dims) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (const auto at = FirstOutsideFloat16({values + i * dim, resident_dims})) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", rows[i], " has ", values[i * dim + *at], " at index ", *at,
                       ", outside fp16 storage's range (|x| <= ", kFloat16Max, ")"));
    }
  }
  return absl::OkStatus();
}

uint32_t CpuBatchScorer::max_k() const { return kMaxK; }

absl::StatusOr<BatchTopK> CpuBatchScorer::Scan(const QueryBatch& queries, uint32_t dims, uint32_t k,
                                               size_t row_limit) {
  if (absl::Status status = CheckBatchRequest(*this, queries, dims, k); !status.ok()) return status;
  if (dims > table_->resident_dims()) {  // a tiered table scans its resident prefix only
    return absl::InvalidArgumentError(absl::StrCat("dims must be in 1..", table_->resident_dims(),
                                                   " (the resident prefix) for a scan, got ",
                                                   dims));
  }
  BatchTopK out;
  out.Reset(queries.count, k);
  const size_t rows = std::min(row_limit, table_->row_count());
  for (size_t q = 0; q < queries.count; ++q) {
    StageScorer scorer(metric_, {queries.query(q), dims}, dims);
    out.Set(q, ScanRows(*table_, scorer, k, rows));
  }
  return out;
}

absl::StatusOr<BatchTopK> CpuBatchScorer::ScoreCandidates(const QueryBatch& queries, uint32_t dims,
                                                          const CandidateLists& candidates,
                                                          uint32_t k) {
  if (absl::Status status = CheckBatchRequest(*this, queries, dims, k); !status.ok()) return status;
  if (candidates.queries() != queries.count) {
    return absl::InvalidArgumentError(
        absl::StrCat(candidates.queries(), " candidate lists for ", queries.count, " queries"));
  }
  BatchTopK out;
  out.Reset(queries.count, k);
  std::vector<ScoredRow> live;
  for (size_t q = 0; q < queries.count; ++q) {
    live.clear();
    for (uint64_t i = candidates.offsets[q]; i < candidates.offsets[q + 1]; ++i) {
      const RowId row = candidates.rows[i];
      if (row < table_->row_count() && table_->IsLive(row)) live.push_back({0.0f, row});
    }
    StageScorer scorer(metric_, {queries.query(q), dims}, dims);
    out.Set(q, RerankRows(*table_, scorer, live, k));
  }
  return out;
}

}  // namespace adanns::index
