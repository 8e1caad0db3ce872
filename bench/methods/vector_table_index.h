// Our exact scan as the harness sees it: data.base in an index::VectorTable (row i = id i),
// searched with index::FlatSearch at a prefix, optionally with the funnel's exact re-rank.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "bench/harness/method.h"
#include "index/plan.h"
#include "index/served_index.h"
#include "index/vector_table.h"

namespace adanns::bench {

class VectorTableIndex : public BuiltIndex {
 public:
  // `rerank` selects the funnel's parameters (search_dims, rerank_candidates, rerank_dims)
  // instead of flat's (search_dims).
  VectorTableIndex(std::unique_ptr<index::VectorTable> table, Metric metric, bool rerank)
      : table_(std::move(table)), metric_(metric), rerank_(rerank) {}

  absl::Status SetSearchParams(const Params& search) override;
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override;

 private:
  std::unique_ptr<index::VectorTable> table_;
  Metric metric_;
  bool rerank_;
  index::Plan plan_;  // resolved
};

// data.base as a table (row i = id i).
std::unique_ptr<index::VectorTable> MakeBaseTable(const BenchData& data);

// One of our served indexes (IVF, HNSW, OPQ) over its table, searched with the plan a search
// point names: keys nprobe, coarse_dims, search_dims, rerank_candidates, rerank_dims, ef; the
// index resolves the rest from its defaults and refuses what it does not hold, as the server
// does. With a `source` (an IVF), `index` (a codebook) scores the source's candidates: the
// composite "ivf_opq" plan.
class ServedIndexAdapter : public BuiltIndex {
 public:
  ServedIndexAdapter(std::unique_ptr<index::VectorTable> table,
                     std::unique_ptr<index::ServedIndex> index,
                     std::unique_ptr<index::ServedIndex> source = nullptr)
      : table_(std::move(table)), index_(std::move(index)), source_(std::move(source)) {}

  absl::Status SetSearchParams(const Params& search) override;
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override;

 private:
  std::unique_ptr<index::VectorTable> table_;
  std::unique_ptr<index::ServedIndex> index_;
  std::unique_ptr<index::ServedIndex> source_;
  index::Plan plan_;  // resolved
};

// Copies data.base into a table; fills stats (full vectors: dim * 4 bytes each).
absl::StatusOr<std::unique_ptr<BuiltIndex>> BuildVectorTableIndex(const BenchData& data,
                                                                  bool rerank, BuildStats* stats);

}  // namespace adanns::bench
