#include "bench/methods/vector_table_index.h"

#include <algorithm>
#include <span>

#include "bench/harness/params.h"
#include "index/flat_search.h"
#include "index/status_macros.h"

namespace adanns::bench {

absl::Status VectorTableIndex::SetSearchParams(const Params& search) {
  const uint32_t dim = table_->dim();
  index::Plan plan;
  if (rerank_) {
    RETURN_IF_ERROR(CheckParamKeys(search, {"search_dims", "rerank_candidates", "rerank_dims"},
                                   "funnel search"));
    ASSIGN_OR_RETURN(plan.rerank_candidates,
                     UintParam(search, "rerank_candidates", 100, 1, 1'000'000));
    ASSIGN_OR_RETURN(plan.rerank_dims, UintParam(search, "rerank_dims", dim, 1, dim));
  } else {
    RETURN_IF_ERROR(CheckParamKeys(search, {"search_dims"}, "flat search"));
  }
  ASSIGN_OR_RETURN(plan.search_dims, UintParam(search, "search_dims", dim, 1, dim));
  // k is only known per query; resolving with k = 1 checks everything else once.
  ASSIGN_OR_RETURN(plan_, index::ResolveFlatPlan(plan, dim, /*k=*/1));
  return absl::OkStatus();
}

void VectorTableIndex::Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const {
  const index::SearchResult result =
      index::FlatSearch(*table_, metric_, std::span<const float>(query, table_->dim()), k, plan_);
  std::fill(ids, ids + k, -1);
  for (size_t i = 0; i < result.hits.size() && i < k; ++i) {
    ids[i] = static_cast<int64_t>(result.hits[i].id);
  }
  work->flops = result.cost.mflops * 1e6;
  work->vectors_scanned = result.cost.vectors_scanned;
}

absl::StatusOr<std::unique_ptr<BuiltIndex>> BuildVectorTableIndex(const BenchData& data,
                                                                  bool rerank, BuildStats* stats) {
  const auto dim = static_cast<uint32_t>(data.base.cols);
  auto table = std::make_unique<index::VectorTable>(dim);
  for (uint64_t row = 0; row < data.base.rows; ++row) {
    table->Upsert(row, std::span<const float>(data.base.row(row), dim));
  }
  stats->bytes_per_vector["full_vectors"] = dim * sizeof(float);
  return std::make_unique<VectorTableIndex>(std::move(table), data.metric, rerank);
}

}  // namespace adanns::bench
