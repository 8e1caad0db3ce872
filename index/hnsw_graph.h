// Internal to the HNSW index, shared by hnsw_index.cc (build, search, serialization) and
// hnsw_writes.cc (inserts, deletes, growth): hnswlib's graph behind HnswIndex::Graph and the
// distance it runs on.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

// hnswlib's own SIMD spaces are unused (our PrefixSpace supplies the distance); without this it
// also defines non-inline CPU-probe functions that clash with the hnswlib baseline's in
// adanns-bench.
#define NO_MANUAL_VECTORIZATION
#include "hnswlib/hnswlib.h"
#include "index/distance.h"
#include "index/hnsw_index.h"
#include "index/huge_pages.h"
#include "index/work_counter.h"

namespace adanns::index {
namespace hnsw_internal {

using hnswlib::tableint;
using HnswGraph = hnswlib::HierarchicalNSW<float>;

// Free nodes a graph is built or loaded with beyond the table's rows.
constexpr size_t kCapacitySlack = 1024;

struct SpaceParam {
  const DistanceKernels* kernels;
  size_t dims;
};

// Prefixes are stored normalised for cosine, so inner product and cosine both rank by -dot.
inline float L2Distance(const void* a, const void* b, const void* param) {
  const auto* p = static_cast<const SpaceParam*>(param);
  return p->kernels->l2_sqr_one(static_cast<const float*>(a), static_cast<const float*>(b),
                                p->dims);
}

inline float NegativeDot(const void* a, const void* b, const void* param) {
  const auto* p = static_cast<const SpaceParam*>(param);
  return -p->kernels->dot_one(static_cast<const float*>(a), static_cast<const float*>(b), p->dims);
}

// hnswlib's distance over graph_dims floats, on our run-time dispatched kernels.
class PrefixSpace : public hnswlib::SpaceInterface<float> {
 public:
  PrefixSpace(Metric metric, size_t dims)
      : param_{&BestKernels(), dims},
        function_(metric == Metric::kL2 ? &L2Distance : &NegativeDot),
        one_(metric == Metric::kL2 ? param_.kernels->l2_sqr_one : param_.kernels->dot_one),
        sign_(metric == Metric::kL2 ? 1.0f : -1.0f) {}
  size_t get_data_size() override { return param_.dims * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return function_; }
  void* get_dist_func_param() override { return &param_; }
  // The same distance with one indirect call (the search loop's hot path).
  float Distance(const float* a, const void* b) const {
    CountMultiplyAdds(param_.dims);
    return sign_ * one_(a, static_cast<const float*>(b), param_.dims);
  }

 private:
  SpaceParam param_;
  hnswlib::DISTFUNC<float> function_;
  float (*one_)(const float*, const float*, size_t);
  float sign_;
};

// The bottom layer (links and prefixes of every node) is what a search walks at random.
inline void AdviseGraphMemory(const HnswGraph& graph) {
  AdviseHugePages(graph.data_level0_memory_, graph.max_elements_ * graph.size_data_per_element_);
}

inline size_t GrownCapacity(const HnswGraph& graph) {
  return graph.max_elements_ + graph.max_elements_ / 2 + kCapacitySlack;
}

// The graph's node arrays copied into bigger ones in steps, each under its own shared hold, then
// swapped in under the exclusive hold. hnswlib's resizeIndex reallocates and copies the whole
// graph in one go (70 MB at 60k nodes of 256 dims, about 250 ms here); under any hold that a
// writer waits behind, every search would wait as long. While a growth is under way the graph
// gains no node (its only inserter is busy copying), so only Remove's deleted marks can change
// what was copied: those nodes are copied again at the swap.
class GraphGrowth {
 public:
  explicit GraphGrowth(const HnswGraph& graph);
  ~GraphGrowth();
  GraphGrowth(const GraphGrowth&) = delete;
  GraphGrowth& operator=(const GraphGrowth&) = delete;

  // Copies the next kGrowthStepBytes of nodes. False once every node is copied.
  bool CopyStep(const HnswGraph& graph);
  // Whether the copy is whole and the graph still has the nodes it copied.
  bool Ready(const HnswGraph& graph) const;
  // Swaps the copy in (exclusive hold), copying again the nodes marked deleted since it began.
  void SwapInto(HnswGraph& graph, std::span<const tableint> marked);
  // Touches the copy's level-0 memory of nodes [first, first + count), past what it copies.
  void PrefaultNodes(size_t first, size_t count);

 private:
  size_t max_elements_;
  size_t nodes_;  // nodes to copy: the graph's when the growth began
  size_t node_bytes_;
  size_t copied_ = 0;
  char* level0_ = nullptr;
  char** link_lists_ = nullptr;
  std::vector<std::mutex> locks_;
  std::unique_ptr<hnswlib::VisitedListPool> visited_;
};

}  // namespace hnsw_internal

struct HnswIndex::Graph {
  using HnswGraph = hnsw_internal::HnswGraph;
  using GraphGrowth = hnsw_internal::GraphGrowth;
  using PrefixSpace = hnsw_internal::PrefixSpace;
  using tableint = hnsw_internal::tableint;

  Graph(Metric metric, size_t dims) : space(metric, dims) {}
  PrefixSpace space;
  std::unique_ptr<HnswGraph> hnsw;
  // Nodes marked deleted, for new ids to take over (entries undeleted since are skipped).
  std::vector<tableint> deleted_nodes;
  std::unique_ptr<GraphGrowth> growth;  // under way (UpkeepStep), taken by the next insert
  std::vector<tableint> marked_during_growth;
  uint64_t growths_swapped_in = 0, growths_in_hold = 0;

  void MarkDeleted(tableint node);
  // Before an insert that may add a node (exclusive hold): swaps in a finished growth, and grows
  // in place (the slow way) only when the graph is full without one.
  void EnsureRoomForNode();
  // A node still marked deleted, if any.
  std::optional<tableint> TakeDeleted();
  // Touches the level-0 memory of the next `count` new nodes (in a growth's copy too) with no
  // hold, so that linking them under the exclusive hold first-touches no fresh page (see
  // PrefaultPages). Only the graph's inserter may call it; no search reads past the node count.
  void PrefaultNextNodes(size_t count);
};

}  // namespace adanns::index
