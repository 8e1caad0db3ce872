// Batch scoring of many queries at once: the exact prefix scan with top-k, and the scoring of
// per-query candidate lists (IVF lists, re-rank shortlists). One interface, two implementations
// that agree up to ties and float rounding: the CPU one over a VectorTable (cpu_batch_scorer.h)
// and the CUDA one over a device-resident copy of the rows (cuda/gpu_batch_scorer.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/topk.h"
#include "index/vector_table.h"

namespace adanns::index {

// `count` queries of at least `dims` floats each, query i at data + i * stride. Raw values:
// scorers normalise each query prefix themselves for cosine.
struct QueryBatch {
  const float* data = nullptr;
  size_t count = 0;
  size_t stride = 0;

  const float* query(size_t i) const { return data + i * stride; }
};

// Per query, rows [offsets[q], offsets[q + 1]) of `rows` are its candidates.
struct CandidateLists {
  std::vector<uint64_t> offsets{0};
  std::vector<RowId> rows;

  size_t queries() const { return offsets.size() - 1; }
  void Add(std::span<const RowId> list) {
    rows.insert(rows.end(), list.begin(), list.end());
    offsets.push_back(rows.size());
  }
};

// The best `k` rows of each query, best first: distances (squared L2, or the negated inner
// product / cosine similarity, so smaller is better everywhere) and rows. Query q's entries are
// [q * k, q * k + counts[q]).
struct BatchTopK {
  uint32_t k = 0;
  std::vector<float> distances;
  std::vector<RowId> rows;
  std::vector<uint32_t> counts;

  void Reset(size_t queries, uint32_t keep) {
    k = keep;
    distances.assign(queries * keep, 0.0f);
    rows.assign(queries * keep, 0);
    counts.assign(queries, 0);
  }
  // Query q's entries: `best` (at most k, best first).
  void Set(size_t q, std::span<const ScoredRow> best) {
    for (size_t i = 0; i < best.size(); ++i) {
      distances[q * k + i] = best[i].distance;
      rows[q * k + i] = best[i].row;
    }
    counts[q] = static_cast<uint32_t>(best.size());
  }
};

class BatchScorer {
 public:
  virtual ~BatchScorer() = default;

  // "cpu" or the GPU's name.
  virtual std::string device_name() const = 0;
  // Longest prefix this scorer can score (the resident prefix on a GPU).
  virtual uint32_t resident_dims() const = 0;
  // Most rows one query may keep (k of a scan, or of a candidate scoring).
  virtual uint32_t max_k() const = 0;

  // Keeps a resident copy in step with the table: rows[i]'s values are values + i * dim (the
  // table's full dim). The CPU scorer reads the table itself and ignores both calls.
  virtual absl::Status SetRows(std::span<const RowId> rows, const float* values, uint32_t dim) = 0;
  virtual absl::Status ClearRows(std::span<const RowId> rows) = 0;

  // Exact scan of live rows [0, row_limit) at prefix `dims`, best k per query.
  // INVALID_ARGUMENT when dims > resident_dims() or k > max_k().
  virtual absl::StatusOr<BatchTopK> Scan(const QueryBatch& queries, uint32_t dims, uint32_t k,
                                         size_t row_limit) = 0;
  // Scores each query's candidate rows at prefix `dims`, best k per query (dead rows skipped).
  virtual absl::StatusOr<BatchTopK> ScoreCandidates(const QueryBatch& queries, uint32_t dims,
                                                    const CandidateLists& candidates,
                                                    uint32_t k) = 0;
};

// Checks shared by both implementations: INVALID_ARGUMENT naming what is out of range.
absl::Status CheckBatchRequest(const BatchScorer& scorer, const QueryBatch& queries, uint32_t dims,
                               uint32_t k);
// For scorers keeping rows as fp16: INVALID_ARGUMENT naming the first row (of SetRows' arguments)
// whose first `resident_dims` values do not fit (index/float16.h).
absl::Status CheckRowsFitFloat16(std::span<const RowId> rows, const float* values, uint32_t dim,
                                 uint32_t resident_dims);

}  // namespace adanns::index
