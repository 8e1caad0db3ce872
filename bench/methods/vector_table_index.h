// Our exact scan as the harness sees it: data.base in an index::VectorTable (row i = id i),
// searched with index::FlatSearch at a prefix, optionally with the funnel's exact re-rank.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "bench/harness/method.h"
#include "index/plan.h"
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

// Copies data.base into a table; fills stats (full vectors: dim * 4 bytes each).
absl::StatusOr<std::unique_ptr<BuiltIndex>> BuildVectorTableIndex(const BenchData& data,
                                                                  bool rerank, BuildStats* stats);

}  // namespace adanns::bench
