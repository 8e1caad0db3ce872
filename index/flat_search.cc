// Exact flat search and the MRL funnel (prefix shortlist, then exact re-rank at a longer prefix).
#include "index/flat_search.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/stage_scorer.h"
#include "index/topk.h"

namespace adanns::index {
namespace {

constexpr uint32_t kMaxRerankCandidates = 1'000'000;

}  // namespace

absl::StatusOr<Plan> ResolveFlatPlan(const Plan& requested, uint32_t dim, uint32_t k,
                                     uint32_t resident_dims, bool quantized) {
  if (k == 0 || k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in 1..", kMaxK, ", got ", k));
  }
  if (requested.coarse_dims.has_value() || requested.nprobe.has_value()) {
    return absl::InvalidArgumentError(
        "plan.coarse_dims and plan.nprobe are IVF parameters; index 'flat' does not use them");
  }
  const uint32_t resident = resident_dims == 0 ? dim : std::min(resident_dims, dim);
  Plan plan = requested;
  plan.index = "flat";
  plan.search_dims = requested.search_dims.value_or(resident);
  if (*plan.search_dims == 0 || *plan.search_dims > dim) {
    return absl::InvalidArgumentError(absl::StrCat("plan.search_dims must be in 1..", dim,
                                                   " (the collection's dim), got ",
                                                   *plan.search_dims));
  }
  if (*plan.search_dims > resident) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plan.search_dims = ", *plan.search_dims,
        " is above this collection's resident_dims = ", resident,
        ": a flat scan reads every row, and only the resident prefix is in memory; scan at "
        "most ",
        resident, " dims and re-rank higher (rerank_dims)"));
  }
  // A tiered collection's default flat plan is the funnel: the resident prefix scanned, the full
  // vectors of the shortlist read from storage for the exact re-rank.
  const bool funnel_by_default =
      (resident < dim || quantized) && !requested.search_dims.has_value();
  if (!requested.has_rerank() && !funnel_by_default) return plan;

  plan.rerank_dims = requested.rerank_dims.value_or(dim);
  plan.rerank_candidates = requested.rerank_candidates.value_or(std::max(10 * k, 100u));
  if (*plan.rerank_dims < *plan.search_dims || *plan.rerank_dims > dim) {
    return absl::InvalidArgumentError(absl::StrCat("plan.rerank_dims must be in ",
                                                   *plan.search_dims, "..", dim,
                                                   " (search_dims..dim), got ", *plan.rerank_dims));
  }
  if (*plan.rerank_candidates < k || *plan.rerank_candidates > kMaxRerankCandidates) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan.rerank_candidates must be in ", k, "..", kMaxRerankCandidates, " (k..",
                     kMaxRerankCandidates, "), got ", *plan.rerank_candidates));
  }
  return plan;
}

Plan ExactWithin(uint32_t max_dims, uint32_t resident_dims, bool quantized) {
  Plan plan;
  if (!quantized && (resident_dims == 0 || max_dims <= resident_dims)) {
    plan.search_dims = max_dims;
  } else {
    plan.search_dims = resident_dims == 0 ? max_dims : std::min(max_dims, resident_dims);
    plan.rerank_dims = max_dims;
  }
  return plan;
}

Cost FlatCost(const Plan& resolved, Metric metric, size_t rows, std::optional<size_t> reranked) {
  Cost cost;
  cost.vectors_scanned = rows;
  double flops =
      static_cast<double>(rows) * TableRowFlops(metric, resolved.search_dims.value_or(0));
  if (resolved.has_rerank()) {
    const size_t candidates =
        reranked.value_or(std::min<size_t>(*resolved.rerank_candidates, rows));
    flops += static_cast<double>(candidates) * TableRowFlops(metric, *resolved.rerank_dims);
  }
  cost.mflops = flops / 1e6;
  return cost;
}

FlatScan PlanFlatScan(const Plan& resolved, Metric metric, size_t table_rows) {
  FlatScan scan;
  if (CommittedOverCap(resolved, RerankFlops(resolved, metric))) {
    scan.capped_out = true;
    return scan;
  }
  // The scan scores every allocated row, freed ones too: that is what is charged and capped.
  const uint64_t row_cap = ScanRowCap(resolved, RerankFlops(resolved, metric),
                                      TableRowFlops(metric, *resolved.search_dims));
  scan.rows = std::min<uint64_t>(table_rows, row_cap);
  scan.capped = row_cap < table_rows;
  return scan;
}

SearchResult FlatSearch(const VectorTable& table, Metric metric, std::span<const float> query,
                        uint32_t k, const Plan& resolved) {
  SearchResult result;
  result.plan = resolved;
  const FlatScan scan = PlanFlatScan(resolved, metric, table.row_count());
  if (scan.capped_out) return CappedOut(resolved);
  const size_t rows = scan.rows;

  StageScorer scan_scorer(metric, query, *resolved.search_dims);
  const size_t first_keep = resolved.has_rerank() ? *resolved.rerank_candidates : k;
  std::vector<ScoredRow> best = ScanRows(table, scan_scorer, first_keep, rows);
  StageScorer* last_scorer = &scan_scorer;

  std::optional<StageScorer> rerank_scorer;
  const size_t candidates = best.size();
  if (resolved.has_rerank()) {
    rerank_scorer.emplace(metric, query, *resolved.rerank_dims);
    best = RerankRows(table, *rerank_scorer, best, k);
    last_scorer = &*rerank_scorer;
  }
  result.cost = FlatCost(resolved, metric, rows, candidates);
  result.cost.capped = scan.capped;

  result.hits.reserve(best.size());
  for (const ScoredRow& entry : best) {
    result.hits.push_back({table.IdOf(entry.row), last_scorer->ToScore(entry.distance)});
  }
  return result;
}

}  // namespace adanns::index
