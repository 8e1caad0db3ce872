// Explicit and default plans over the ready indexes (see plan_chooser.h).
#include "index/plan_chooser.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/budget_planner.h"
#include "index/flat_search.h"

namespace adanns::index {
namespace {

// Index kinds the automatic plan uses when ready, best first.
constexpr std::array<std::string_view, 2> kPreferredKinds = {"hnsw", "ivf"};

const ServedIndex* FindKind(std::span<const ServedIndex* const> ready, std::string_view kind) {
  for (const ServedIndex* index : ready) {
    if (index->kind() == kind) return index;
  }
  return nullptr;
}

// The ready codebook called `name`, or null.
const ServedIndex* FindCodebookNamed(std::span<const ServedIndex* const> ready,
                                     std::string_view name) {
  for (const ServedIndex* index : ready) {
    if (index->kind() == kCodebookKind && index->name() == name) return index;
  }
  return nullptr;
}

// The codebook an "opq" / "ivf_opq" plan names, or the only ready one when it names none.
absl::StatusOr<const ServedIndex*> FindCodebook(std::span<const ServedIndex* const> ready,
                                                const std::string& name) {
  std::vector<const ServedIndex*> codebooks;
  for (const ServedIndex* index : ready) {
    if (index->kind() != kCodebookKind) continue;
    if (index->name() == name) return index;
    codebooks.push_back(index);
  }
  if (name.empty() && codebooks.size() == 1) return codebooks[0];
  std::string names;
  for (const ServedIndex* codebook : codebooks) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", std::string(codebook->name()));
  }
  if (codebooks.empty()) {
    return absl::NotFoundError(
        "this collection has no ready codebook (build one with BuildIndex opq)");
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan.codebook must name one of the ready codebooks: ", names));
  }
  return absl::NotFoundError(
      absl::StrCat("plan.codebook '", name, "' is not a ready codebook; ready: ", names));
}

// "opq" and "ivf_opq" plans.
absl::StatusOr<Plan> ResolveCodebookPlan(const Plan& requested, uint32_t k,
                                         std::span<const ServedIndex* const> ready) {
  ASSIGN_OR_RETURN(const ServedIndex* codebook, FindCodebook(ready, requested.codebook));
  if (requested.index == kCodebookKind) return codebook->ResolvePlan(requested, k);
  const ServedIndex* ivf = FindKind(ready, "ivf");
  if (ivf == nullptr || ivf->candidate_source() == nullptr) {
    return absl::NotFoundError(
        "plan.index 'ivf_opq' needs a ready IVF index on this collection (build one with "
        "BuildIndex)");
  }
  return codebook->candidate_scorer()->ResolvePlan(requested, k, *ivf->candidate_source());
}

SearchResult RunResolved(const Plan& resolved, const VectorTable& table, Metric metric,
                         std::span<const float> query, uint32_t k,
                         std::span<const ServedIndex* const> ready) {
  if (resolved.index == kCodebookKind || resolved.index == kIvfCodebookPlan) {
    // A resolved plan always names its codebook; this lookup allocates nothing (per query).
    const ServedIndex* codebook = FindCodebookNamed(ready, resolved.codebook);
    if (resolved.index == kCodebookKind) return codebook->Search(table, query, k, resolved);
    return codebook->candidate_scorer()->Search(table, query, k, resolved,
                                                *FindKind(ready, "ivf")->candidate_source());
  }
  if (const ServedIndex* index = FindKind(ready, resolved.index)) {
    return index->Search(table, query, k, resolved);
  }
  return FlatSearch(table, metric, query, k, resolved);
}

}  // namespace

absl::StatusOr<Plan> ChoosePlan(const Budget& budget, const CollectionShape& shape, uint32_t k,
                                std::span<const ServedIndex* const> ready) {
  auto find = [&](std::string_view kind) { return FindKind(ready, kind); };
  const ServedIndex* preferred = nullptr;
  for (std::string_view kind : kPreferredKinds) {
    if (preferred == nullptr) preferred = find(kind);
  }
  if (budget.plan.has_value()) {
    const std::string& name = budget.plan->index;
    if (name == "flat" || (name.empty() && preferred == nullptr)) {
      return ResolveFlatPlan(*budget.plan, shape.dim, k, shape.resident_dims, shape.quantized);
    }
    if (name.empty()) return preferred->ResolvePlan(*budget.plan, k);
    if (name == kCodebookKind || name == kIvfCodebookPlan) {
      return ResolveCodebookPlan(*budget.plan, k, ready);
    }
    if (const ServedIndex* named = find(name)) return named->ResolvePlan(*budget.plan, k);
    if (std::find(kPreferredKinds.begin(), kPreferredKinds.end(), name) != kPreferredKinds.end()) {
      return absl::NotFoundError(absl::StrCat("plan.index '", name,
                                              "' is not ready on this collection (build one with "
                                              "BuildIndex)"));
    }
    std::string known = "flat";
    for (const ServedIndex* index : ready) {
      absl::StrAppend(&known, ", ", std::string(index->kind()));
    }
    return absl::NotFoundError(
        absl::StrCat("plan.index '", name, "' does not exist; this collection has: ", known));
  }
  if (budget.max_mflops.has_value() || budget.target_recall.has_value()) {
    ASSIGN_OR_RETURN(PlanChoice choice, PlanSearch(budget, shape, k, ready, nullptr));
    return std::move(choice.plan);
  }
  if (preferred != nullptr) return preferred->ResolvePlan({}, k);
  return ResolveFlatPlan({}, shape.dim, k, shape.resident_dims, shape.quantized);
}

SearchResult RunPlan(const Plan& resolved, const VectorTable& table, Metric metric,
                     std::span<const float> query, uint32_t k,
                     std::span<const ServedIndex* const> ready) {
  // Whatever the plan, its reads from storage go through VectorTable::ReadFullRows, which counts
  // them on this thread.
  const uint64_t fetched_before = tls_fetch_ledger.rows;
  SearchResult result = RunResolved(resolved, table, metric, query, k, ready);
  result.cost.vectors_fetched = tls_fetch_ledger.rows - fetched_before;
  return result;
}

}  // namespace adanns::index
