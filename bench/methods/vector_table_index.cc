#include "bench/methods/vector_table_index.h"

#include <algorithm>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "bench/harness/params.h"
#include "index/budget_planner.h"
#include "index/flat_search.h"
#include "index/plan_chooser.h"

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
  ASSIGN_OR_RETURN(plan.search_dims,
                   UintParam(search, "search_dims", table_->resident_dims(), 1, dim));
  plan.index = "flat";
  // Checked once here (k = 1) for a clear error; each query resolves it again with its k.
  RETURN_IF_ERROR(
      index::ResolveFlatPlan(plan, dim, /*k=*/1, table_->resident_dims(), table_->quantized())
          .status());
  budget_ = {};
  budget_.plan = plan;
  return absl::OkStatus();
}

namespace {

absl::StatusOr<index::PlanChoice> PlanAsTheServer(const index::Budget& budget,
                                                  const index::VectorTable& table, Metric metric,
                                                  std::span<const uint32_t> nesting_dims,
                                                  uint32_t k,
                                                  std::span<const index::ServedIndex* const> ready,
                                                  const index::Calibration* calibration) {
  const index::CollectionShape shape{table.dim(), nesting_dims,          table.size(),
                                     metric,      table.resident_dims(), table.quantized()};
  return index::PlanSearch(budget, shape, k, ready, calibration);
}

}  // namespace

index::SearchResult SearchAsTheServer(const index::Budget& budget, const index::VectorTable& table,
                                      Metric metric, std::span<const uint32_t> nesting_dims,
                                      std::span<const float> query, uint32_t k,
                                      std::span<const index::ServedIndex* const> ready,
                                      const index::Calibration* calibration) {
  absl::StatusOr<index::PlanChoice> choice =
      PlanAsTheServer(budget, table, metric, nesting_dims, k, ready, calibration);
  if (!choice.ok()) return {};
  return index::RunPlan(choice->plan, table, metric, query, k, ready);
}

std::string PlanText(const index::Plan& plan) {
  std::string text = plan.index.empty() ? std::string("auto") : plan.index;
  if (!plan.codebook.empty()) absl::StrAppend(&text, " codebook=", plan.codebook);
  for (const auto& [key, field] :
       {std::pair{"coarse_dims", &plan.coarse_dims}, std::pair{"nprobe", &plan.nprobe},
        std::pair{"search_dims", &plan.search_dims}, std::pair{"ef", &plan.ef},
        std::pair{"rerank_candidates", &plan.rerank_candidates},
        std::pair{"rerank_dims", &plan.rerank_dims}}) {
    if (field->has_value()) absl::StrAppend(&text, " ", key, "=", **field);
  }
  if (plan.max_mflops.has_value()) absl::StrAppend(&text, " max_mflops=", *plan.max_mflops);
  return text;
}

std::string PlanAsTheServerText(const index::Budget& budget, const index::VectorTable& table,
                                Metric metric, std::span<const uint32_t> nesting_dims, uint32_t k,
                                std::span<const index::ServedIndex* const> ready,
                                const index::Calibration* calibration) {
  absl::StatusOr<index::PlanChoice> choice =
      PlanAsTheServer(budget, table, metric, nesting_dims, k, ready, calibration);
  if (!choice.ok()) return "";
  std::string text = PlanText(choice->plan);
  if (choice->estimate.has_value()) {
    absl::StrAppendFormat(&text, " [calibrated %.4f, bound %.4f, %u queries]",
                          choice->estimate->recall, choice->estimate->recall_lower_bound,
                          choice->estimate->queries);
  }
  return text;
}

void ReportResult(const index::SearchResult& result, uint32_t k, int64_t* ids, QueryWork* work) {
  std::fill(ids, ids + k, -1);
  for (size_t i = 0; i < result.hits.size() && i < k; ++i) {
    ids[i] = static_cast<int64_t>(result.hits[i].id);
  }
  work->flops = result.cost.mflops * 1e6;
  work->vectors_scanned = result.cost.vectors_scanned;
  work->vectors_fetched = result.cost.vectors_fetched;
}

void VectorTableIndex::Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const {
  ReportResult(SearchAsTheServer(budget_, *table_, metric_, {},
                                 std::span<const float>(query, table_->dim()), k, {}, nullptr),
               k, ids, work);
}

std::string VectorTableIndex::PointPlan(uint32_t k) const {
  return PlanAsTheServerText(budget_, *table_, metric_, {}, k, {}, nullptr);
}

absl::Status ServedIndexAdapter::SetSearchParams(const Params& search) {
  const std::string plan_name =
      source_ ? "ivf_" + std::string(index_->kind()) : std::string(index_->kind());
  RETURN_IF_ERROR(CheckParamKeys(
      search, {"nprobe", "coarse_dims", "search_dims", "rerank_candidates", "rerank_dims", "ef"},
      plan_name + " search"));
  index::Plan plan;
  plan.index = plan_name;
  for (auto [key, field] :
       {std::pair{"nprobe", &plan.nprobe}, std::pair{"coarse_dims", &plan.coarse_dims},
        std::pair{"search_dims", &plan.search_dims},
        std::pair{"rerank_candidates", &plan.rerank_candidates},
        std::pair{"rerank_dims", &plan.rerank_dims}, std::pair{"ef", &plan.ef}}) {
    if (search.count(key) == 0) continue;
    // rerank_candidates = 0 turns a codebook's re-rank off; the index refuses it elsewhere.
    const uint32_t min = std::string_view(key) == "rerank_candidates" ? 0 : 1;
    ASSIGN_OR_RETURN(*field, UintParam(search, key, 0, min, UINT32_MAX));
  }
  // Checked once here (k = 1) for a clear error; each query resolves it again with its k.
  if (source_) {
    RETURN_IF_ERROR(index_->candidate_scorer()
                        ->ResolvePlan(plan, /*k=*/1, *source_->candidate_source())
                        .status());
  } else {
    RETURN_IF_ERROR(index_->ResolvePlan(plan, /*k=*/1).status());
  }
  budget_ = {};
  budget_.plan = plan;
  return absl::OkStatus();
}

void ServedIndexAdapter::Search(const float* query, uint32_t k, int64_t* ids,
                                QueryWork* work) const {
  ReportResult(SearchAsTheServer(budget_, *table_, metric_, {},
                                 std::span<const float>(query, table_->dim()), k, ready_, nullptr),
               k, ids, work);
}

std::string ServedIndexAdapter::PointPlan(uint32_t k) const {
  return PlanAsTheServerText(budget_, *table_, metric_, {}, k, ready_, nullptr);
}

std::unique_ptr<index::VectorTable> MakeBaseTable(const BenchData& data) {
  const auto dim = static_cast<uint32_t>(data.base.cols);
  auto table = std::make_unique<index::VectorTable>(dim);
  for (uint64_t row = 0; row < data.base.rows; ++row) {
    table->Upsert(row, std::span<const float>(data.base.row(row), dim));
  }
  return table;
}

absl::StatusOr<std::unique_ptr<BuiltIndex>> BuildVectorTableIndex(const BenchData& data,
                                                                  bool rerank, BuildStats* stats) {
  stats->bytes_per_vector["full_vectors"] = data.base.cols * sizeof(float);
  return std::make_unique<VectorTableIndex>(MakeBaseTable(data), data.metric, rerank);
}

}  // namespace adanns::bench
