// A BatchScorer that keeps its own copy of the rows, exactly as the GPU scorer does, but in host
// memory and scored with the CPU kernels. The server uses it (GpuOptions.emulate) so that machines
// without a GPU, CI among them, run the GPU path's mirroring, routing and batching end to end.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "index/batch_scorer.h"

namespace adanns::index {

class HostMirrorScorer : public BatchScorer {
 public:
  // Keeps the first `resident_dims` of every row; k up to `max_k`. With `float16`, keeps what the
  // GPU's fp16 storage keeps (each value rounded to fp16; rows outside its range refused).
  HostMirrorScorer(Metric metric, uint32_t resident_dims, uint32_t max_k, bool float16 = false)
      : metric_(metric), resident_dims_(resident_dims), max_k_(max_k), float16_(float16) {}

  std::string device_name() const override { return "host-mirror"; }
  uint32_t resident_dims() const override { return resident_dims_; }
  uint32_t max_k() const override { return max_k_; }

  absl::Status SetRows(std::span<const RowId> rows, const float* values, uint32_t dim) override;
  absl::Status ClearRows(std::span<const RowId> rows) override;
  absl::StatusOr<BatchTopK> Scan(const QueryBatch& queries, uint32_t dims, uint32_t k,
                                 size_t row_limit) override;
  absl::StatusOr<BatchTopK> ScoreCandidates(const QueryBatch& queries, uint32_t dims,
                                            const CandidateLists& candidates, uint32_t k) override;

 private:
  const float* Row(RowId row) const { return values_.data() + size_t{row} * resident_dims_; }

  const Metric metric_;
  const uint32_t resident_dims_;
  const uint32_t max_k_;
  const bool float16_;
  std::mutex mutex_;  // calls are serialised, like the device's
  std::vector<float> values_;
  std::vector<uint8_t> live_;
};

}  // namespace adanns::index
