// The calibration's plan grid (see calibration.h): per ready index, its plans over the prefixes
// and breadth knobs a sweep covers, and the flat funnels.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "index/calibration.h"

namespace adanns::index {
namespace {

// Prefixes swept per IVF stage (its built prefix and the longest nesting prefixes below it).
constexpr size_t kPrefixesPerStage = 2;
// Re-rank depths tried, as multiples of k.
constexpr uint32_t kRerankFactors[] = {2, 5, 10, 20};

double Param(const ServedIndex& index, std::string_view name) {
  for (const auto& [key, value] : index.described_params()) {
    if (key == name) return value;
  }
  return 0;
}

// `first`, then steps of x1.5 (rounded up) below `limit`, then `limit`: a breadth knob's sweep.
std::vector<uint32_t> Geometric(uint32_t first, uint32_t limit) {
  std::vector<uint32_t> values;
  for (uint64_t v = std::max(first, 1u); v < limit; v = std::max(v + 1, (3 * v + 1) / 2)) {
    values.push_back(static_cast<uint32_t>(v));
  }
  values.push_back(limit);
  return values;
}

// `limit`, then the longest nesting prefixes below it, `count` in all at most: the prefixes a
// stage whose index holds `limit` dims is swept over.
std::vector<uint32_t> PrefixesUpTo(const CollectionShape& shape, uint32_t limit, size_t count) {
  std::vector<uint32_t> prefixes = {limit};
  for (auto it = shape.nesting_dims.rbegin();
       it != shape.nesting_dims.rend() && prefixes.size() < count; ++it) {
    if (*it < limit) prefixes.push_back(*it);
  }
  return prefixes;
}

Plan Named(std::string_view index) {
  Plan plan;
  plan.index = std::string(index);
  return plan;
}

}  // namespace

std::vector<Plan> CalibrationGrid(std::span<const ServedIndex* const> ready,
                                  const CollectionShape& shape, uint32_t k, bool flat_plans) {
  std::vector<Plan> grid;
  // Re-rank prefixes: the full dim, and the longest nesting prefix below it when it is longer
  // than what the scan read (cheaper, at some recall against full-dim truth).
  // On a tiered table a re-rank above the resident prefix reads each candidate's full vector from
  // storage whatever its prefix: a shorter one saves FLOPs but not the read, which dominates, so
  // only the full dim is calibrated there (and on a quantised table, where every re-rank reads).
  std::vector<uint32_t> rerank_dims = {shape.dim};
  const uint32_t resident = shape.resident_dims == 0 ? shape.dim : shape.resident_dims;
  for (auto it = shape.nesting_dims.rbegin(); it != shape.nesting_dims.rend(); ++it) {
    if (*it < shape.dim) {
      if (!shape.quantized && (*it <= resident || resident == shape.dim)) {
        rerank_dims.push_back(*it);
      }
      break;
    }
  }
  auto add_reranked = [&](Plan plan) {
    for (const uint32_t dims : rerank_dims) {
      if (dims <= plan.search_dims.value_or(0) && dims != shape.dim) continue;
      plan.rerank_dims = dims;
      for (const uint32_t factor : kRerankFactors) {
        plan.rerank_candidates = factor * k;
        grid.push_back(plan);
      }
    }
  };
  if (flat_plans) grid.push_back(Named("flat"));  // exact
  // Funnels from each nesting prefix a flat scan may read (on a tiered table, those within the
  // resident prefix, and the resident prefix itself).
  std::vector<uint32_t> funnel_dims;
  for (const uint32_t dims : shape.nesting_dims) {
    if (dims < shape.dim && dims <= resident) funnel_dims.push_back(dims);
  }
  if (resident < shape.dim &&
      std::find(funnel_dims.begin(), funnel_dims.end(), resident) == funnel_dims.end()) {
    funnel_dims.push_back(resident);
  }
  for (const uint32_t dims : funnel_dims) {
    if (!flat_plans) break;
    Plan funnel = Named("flat");
    funnel.search_dims = dims;
    add_reranked(funnel);
  }
  const ServedIndex* ivf = nullptr;
  for (const ServedIndex* index : ready) {
    if (index->kind() == "ivf") ivf = index;
  }
  for (const ServedIndex* index : ready) {
    if (index->kind() == "ivf") {
      const auto nlist = static_cast<uint32_t>(Param(*index, "nlist"));
      const auto coarse = static_cast<uint32_t>(Param(*index, "coarse_dims"));
      const auto scan = static_cast<uint32_t>(Param(*index, "search_dims"));
      for (const uint32_t coarse_dims : PrefixesUpTo(shape, coarse, kPrefixesPerStage)) {
        for (const uint32_t search_dims : PrefixesUpTo(shape, scan, kPrefixesPerStage)) {
          for (const uint32_t nprobe : Geometric(1, nlist)) {
            Plan plan = Named("ivf");
            plan.coarse_dims = coarse_dims;
            plan.search_dims = search_dims;
            plan.nprobe = nprobe;
            add_reranked(plan);
          }
        }
      }
    } else if (index->kind() == "hnsw") {
      const auto graph_dims = static_cast<uint32_t>(Param(*index, "graph_dims"));
      for (const uint32_t ef : Geometric(std::max(k, 8u), std::max(1024u, 2 * k))) {
        Plan plan = Named("hnsw");
        plan.ef = ef;
        if (graph_dims >= shape.dim) {
          grid.push_back(plan);  // a full-dim graph has nothing to re-rank
          continue;
        }
        for (const uint32_t dims : rerank_dims) {
          if (dims < graph_dims) continue;
          plan.rerank_dims = dims;
          grid.push_back(plan);
        }
      }
    } else if (index->kind() == kCodebookKind) {
      Plan plan = Named(kCodebookKind);
      plan.codebook = std::string(index->name());
      add_reranked(plan);
      if (ivf == nullptr) continue;
      for (const uint32_t nprobe : Geometric(1, static_cast<uint32_t>(Param(*ivf, "nlist")))) {
        Plan composite = Named(kIvfCodebookPlan);
        composite.codebook = std::string(index->name());
        composite.nprobe = nprobe;
        add_reranked(composite);
      }
    }
  }
  return grid;
}

}  // namespace adanns::index
