// The default index of a collection (BuildIndex with no kind): an AdANNS-HNSW graph on a nesting
// prefix, kept only where the nesting pays. How much a prefix graph saves depends on the data (on
// tightly clustered embeddings a full-dim graph needs so few distance computations that a prefix
// graph plus re-rank is barely faster), so when the prefix is shorter than the full dim a full-dim
// graph is built beside it, both are calibrated (on the build's held-out rows when it set some
// aside, else on sampled stored vectors), and the one with the lower latency at recall@10 >= 0.95
// is kept.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/hnsw_index.h"
#include "index/served_index.h"

namespace adanns::index {

// The recall@10 the two graphs are compared at.
inline constexpr double kDefaultGraphTargetRecall = 0.95;

// The prefix graph's dims: the shortest nesting prefix of at least max(32, dim / 4) (dim when
// none is shorter than dim).
uint32_t DefaultGraphDims(uint32_t dim, std::span<const uint32_t> nesting_dims);

// What the comparison measured (latency: single-thread mean of the fastest calibrated ef reaching
// the target, or of the best one when none does).
struct GraphChoice {
  uint32_t prefix_dims = 0;
  double prefix_latency_us = 0, prefix_recall = 0;
  double full_latency_us = 0, full_recall = 0;  // 0 when no full-dim graph was built
  uint32_t chosen_dims = 0;
};

// Builds the prefix graph (graph_dims = `prefix_dims`, other parameters from `params`) and, when
// prefix_dims < dim, the full-dim one, then keeps the faster (see above); `choice` (may be null)
// receives the numbers. Reads through `access` like HnswIndex::Build; neither graph holds the
// held-out rows.
absl::StatusOr<std::unique_ptr<HnswIndex>> BuildDefaultGraph(const TableAccess& access,
                                                             Metric metric, HnswBuildParams params,
                                                             int threads, const Progress& progress,
                                                             const std::atomic<bool>* cancel,
                                                             GraphChoice* choice = nullptr,
                                                             const HeldOutRows& held_out = {});

}  // namespace adanns::index
