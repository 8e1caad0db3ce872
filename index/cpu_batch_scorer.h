// The CPU BatchScorer: the flat scan and the re-rank the single-query paths use (StageScorer, the
// dispatched distance kernels), run query by query over the live VectorTable.
#pragma once

#include <string>

#include "index/batch_scorer.h"

namespace adanns::index {

class CpuBatchScorer : public BatchScorer {
 public:
  // `table` must outlive the scorer; callers hold the table's read lock while scoring.
  CpuBatchScorer(const VectorTable* table, Metric metric) : table_(table), metric_(metric) {}

  std::string device_name() const override { return "cpu"; }
  // Any prefix for candidate scoring (a tiered table reads the full vectors from storage); Scan
  // is limited to the table's resident prefix.
  uint32_t resident_dims() const override { return table_->dim(); }
  uint32_t max_k() const override;

  absl::Status SetRows(std::span<const RowId>, const float*, uint32_t) override {
    return absl::OkStatus();
  }
  absl::Status ClearRows(std::span<const RowId>) override { return absl::OkStatus(); }

  absl::StatusOr<BatchTopK> Scan(const QueryBatch& queries, uint32_t dims, uint32_t k,
                                 size_t row_limit) override;
  absl::StatusOr<BatchTopK> ScoreCandidates(const QueryBatch& queries, uint32_t dims,
                                            const CandidateLists& candidates, uint32_t k) override;

 private:
  const VectorTable* table_;
  Metric metric_;
};

}  // namespace adanns::index
