// A search plan (which index, which prefix per stage, how many candidates), its cost by the
// ARCHITECTURE.md cost model, and the result type every index returns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/metric.h"

namespace adanns::index {

// Unset fields mean "index default"; indexes fill them in when they resolve a plan.
struct Plan {
  std::string index;                          // "" = automatic, "flat", "ivf", "hnsw", "opq", ...
  std::optional<uint32_t> coarse_dims;        // IVF: prefix used to rank centroids
  std::optional<uint32_t> nprobe;             // IVF: lists probed
  std::optional<uint32_t> search_dims;        // prefix of the scan stage
  std::optional<uint32_t> rerank_dims;        // prefix of the exact re-rank stage
  std::optional<uint32_t> rerank_candidates;  // candidates kept for the re-rank
  std::optional<uint32_t> ef;                 // graph: beam width of the bottom-layer search
  std::string codebook;                       // "opq", "ivf_opq": codebook name ("" = default)
  // Hard cap on this query's MFLOPs: the scan stage stops where the next row would exceed it
  // (what the other stages commit to is reserved first). Unset = no cap.
  std::optional<double> max_mflops;

  bool operator==(const Plan&) const = default;
  bool has_rerank() const { return rerank_dims.has_value() || rerank_candidates.has_value(); }
  // Query floats this plan reads: the longest prefix of any stage (what Budget.max_dims bounds).
  uint32_t QueryDimsNeeded() const {
    return std::max({coarse_dims.value_or(0), search_dims.value_or(0), rerank_dims.value_or(0)});
  }
};

// What a request may spend: nothing set (automatic), a hard MFLOPs cap, a target recall, or an
// explicit plan; and, with any of them, the longest prefix any stage may read.
struct Budget {
  std::optional<double> max_mflops;
  std::optional<float> target_recall;
  std::optional<Plan> plan;
  std::optional<uint32_t> max_dims;
};

// Work per query; one multiply-add counts as one FLOP.
struct Cost {
  double mflops = 0;
  uint64_t vectors_scanned = 0;
  bool capped = false;  // the scan stopped early at the plan's max_mflops
  // Vectors read from storage (a tiered table's stages above its resident prefix).
  uint64_t vectors_fetched = 0;
};

struct Hit {
  uint64_t id = 0;
  float score = 0;
};

struct SearchResult {
  std::vector<Hit> hits;  // best first
  Plan plan;              // resolved: every field the search used is set
  Cost cost;
};

// True when what a plan commits to before its scan already exceeds its cap: the search then
// does nothing (and reports itself capped) rather than overspend.
inline bool CommittedOverCap(const Plan& plan, double committed) {
  return plan.max_mflops.has_value() && committed > *plan.max_mflops * 1e6;
}

// The result of a search whose cap left no room for its scan: no hits, nothing spent.
inline SearchResult CappedOut(const Plan& resolved) {
  SearchResult result;
  result.plan = resolved;
  result.cost.capped = true;
  return result;
}

// Rows of `flops_per_row` FLOPs each that a scan may score under the plan's cap once `committed`
// FLOPs (coarse stage, query setup, the re-rank's worst case) are reserved; unlimited (UINT64_MAX)
// without a cap.
inline uint64_t ScanRowCap(const Plan& plan, double committed, double flops_per_row) {
  if (!plan.max_mflops.has_value()) return UINT64_MAX;
  const double left = *plan.max_mflops * 1e6 - committed;
  if (left <= 0 || flops_per_row <= 0) return 0;
  const double rows = left / flops_per_row;
  // A huge (finite) cap would overflow the conversion: as good as none.
  return rows >= static_cast<double>(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(rows);
}

// Multiply-adds to score one raw row (the vector table's, an IVF list's) at `dims`: cosine takes
// the dot product and the row's norm (2 per dim), L2 and inner product 1 per dim.
inline double TableRowFlops(Metric metric, uint32_t dims) {
  return (metric == Metric::kCosine ? 2.0 : 1.0) * dims;
}

// Multiply-adds to score one row of an index's own copy of a prefix, stored `stored_dims` long
// and normalised for cosine: a scan over exactly that prefix takes dot products only (1 per dim);
// a shorter slice is no longer unit length and costs what a table row does.
inline double StoredRowFlops(Metric metric, uint32_t dims, uint32_t stored_dims) {
  return dims == stored_dims ? double(dims) : TableRowFlops(metric, dims);
}

// The worst-case FLOPs of a plan's exact re-rank (every candidate's table row at rerank_dims).
inline double RerankFlops(const Plan& plan, Metric metric) {
  return plan.has_rerank()
             ? double(*plan.rerank_candidates) * TableRowFlops(metric, *plan.rerank_dims)
             : 0;
}

}  // namespace adanns::index
