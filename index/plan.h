// A search plan (which index, which prefix per stage, how many candidates), its cost by the
// ARCHITECTURE.md cost model, and the result type every index returns.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

  bool has_rerank() const { return rerank_dims.has_value() || rerank_candidates.has_value(); }
  // Query floats this plan reads.
  uint32_t QueryDimsNeeded() const {
    return std::max(search_dims.value_or(0), rerank_dims.value_or(0));
  }
};

// What a request may spend: nothing set (automatic), a hard MFLOPs cap, a target recall, or an
// explicit plan.
struct Budget {
  std::optional<double> max_mflops;
  std::optional<float> target_recall;
  std::optional<Plan> plan;
};

// Work per query; one multiply-add counts as one FLOP.
struct Cost {
  double mflops = 0;
  uint64_t vectors_scanned = 0;
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

}  // namespace adanns::index
