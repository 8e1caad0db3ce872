// AdANNS-HNSW write maintenance: inserts (whole, or prepared under a shared hold and linked
// under the exclusive one), deletes, and the graph's growth in bounded steps.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <queue>
#include <utility>

#include "index/hnsw_graph.h"
#include "index/prefix.h"

namespace adanns::index {

using hnsw_internal::AdviseGraphMemory;
using hnsw_internal::GraphGrowth;
using hnsw_internal::GrownCapacity;
using hnsw_internal::HnswGraph;
using hnsw_internal::tableint;

namespace {

// Nodes still free when the graph starts growing (more than the absorber links per hold).
constexpr size_t kGrowAhead = 64;
// Bytes of the graph one upkeep step copies under a shared hold (about 1 ms with the first touch
// of the copy's fresh pages; 4 MiB steps held it 10-15 ms of CPU on the dev VM).
constexpr size_t kGrowthStepBytes = size_t{1} << 20;
// New nodes whose memory an insert's preparation touches ahead (at least the absorber's rows per
// hold; the first touch of a page that is already backed costs nothing).
constexpr size_t kPrefaultNodes = 8;

}  // namespace

namespace hnsw_internal {

GraphGrowth::GraphGrowth(const HnswGraph& graph)
    : max_elements_(GrownCapacity(graph)),
      nodes_(graph.cur_element_count),
      node_bytes_(graph.size_data_per_element_),
      locks_(max_elements_),
      visited_(std::make_unique<hnswlib::VisitedListPool>(1, max_elements_)) {
  level0_ = static_cast<char*>(std::malloc(max_elements_ * node_bytes_));
  link_lists_ = static_cast<char**>(std::malloc(max_elements_ * sizeof(char*)));
  if (level0_ == nullptr || link_lists_ == nullptr) throw std::bad_alloc();
  AdviseHugePages(level0_, max_elements_ * node_bytes_);
}

GraphGrowth::~GraphGrowth() {
  std::free(level0_);
  std::free(link_lists_);
}

bool GraphGrowth::CopyStep(const HnswGraph& graph) {
  const size_t step = std::max<size_t>(1, kGrowthStepBytes / node_bytes_);
  const size_t end = std::min(nodes_, copied_ + step);
  std::memcpy(level0_ + copied_ * node_bytes_, graph.data_level0_memory_ + copied_ * node_bytes_,
              (end - copied_) * node_bytes_);
  std::memcpy(link_lists_ + copied_, graph.linkLists_ + copied_, (end - copied_) * sizeof(char*));
  copied_ = end;
  return copied_ < nodes_;
}

bool GraphGrowth::Ready(const HnswGraph& graph) const {
  return copied_ == nodes_ && graph.cur_element_count == nodes_;
}

void GraphGrowth::SwapInto(HnswGraph& graph, std::span<const tableint> marked) {
  for (const tableint node : marked) {
    std::memcpy(level0_ + node * node_bytes_, graph.data_level0_memory_ + node * node_bytes_,
                node_bytes_);
  }
  std::swap(graph.data_level0_memory_, level0_);
  std::swap(graph.linkLists_, link_lists_);
  graph.element_levels_.resize(max_elements_);
  graph.link_list_locks_.swap(locks_);
  std::unique_ptr<hnswlib::VisitedListPool> old_visited(graph.visited_list_pool_);
  graph.visited_list_pool_ = visited_.release();
  visited_ = std::move(old_visited);
  graph.max_elements_ = max_elements_;
}

void GraphGrowth::PrefaultNodes(size_t first, size_t count) {
  const size_t end = std::min(first + count, max_elements_);
  if (first >= end) return;
  PrefaultPages(level0_ + first * node_bytes_, (end - first) * node_bytes_);
}

}  // namespace hnsw_internal

void HnswIndex::Graph::PrefaultNextNodes(size_t count) {
  const size_t first = hnsw->cur_element_count;
  const size_t end = std::min(first + count, hnsw->max_elements_);
  if (first < end) {
    PrefaultPages(hnsw->data_level0_memory_ + first * hnsw->size_data_per_element_,
                  (end - first) * hnsw->size_data_per_element_);
  }
  if (growth != nullptr) growth->PrefaultNodes(first, count);
}

void HnswIndex::Graph::MarkDeleted(tableint node) {
  hnsw->markDeletedInternal(node);
  deleted_nodes.push_back(node);
  if (growth != nullptr) marked_during_growth.push_back(node);
}

void HnswIndex::Graph::EnsureRoomForNode() {
  if (growth != nullptr && growth->Ready(*hnsw)) {
    growth->SwapInto(*hnsw, marked_during_growth);
    ++growths_swapped_in;
  }
  growth.reset();
  marked_during_growth.clear();
  if (hnsw->cur_element_count < hnsw->max_elements_) return;
  hnsw->resizeIndex(GrownCapacity(*hnsw));
  ++growths_in_hold;
  AdviseGraphMemory(*hnsw);
}

std::optional<tableint> HnswIndex::Graph::TakeDeleted() {
  while (!deleted_nodes.empty()) {
    const tableint node = deleted_nodes.back();
    deleted_nodes.pop_back();
    if (hnsw->isMarkedDeleted(node)) return node;
  }
  return std::nullopt;
}

void HnswIndex::PreparePrefix(const float* row, float* out) const {
  CopyPrefix(row, params_.graph_dims, metric_, out);
}

void HnswIndex::Link(const float* prefix, uint64_t id) {
  HnswGraph& graph = *graph_->hnsw;
  // hnswlib 0.6.2 can read past an empty candidate list when it links a *new* node whose layer
  // search reaches only deleted nodes (a fuzzer found it; heavy deletes reach it too), while
  // re-linking an existing node is guarded. So while deleted nodes exist, a new id takes one
  // over (what later hnswlib calls replace_deleted), which also stops dead nodes piling up.
  const bool new_id = !graph.label_lookup_.contains(id);
  if (new_id) graph_->EnsureRoomForNode();
  if (graph.num_deleted_ > 0 && new_id) {
    if (const std::optional<tableint> node = graph_->TakeDeleted()) {
      graph.label_lookup_.erase(graph.getExternalLabel(*node));
      graph.setExternalLabel(*node, id);
      graph.label_lookup_[id] = *node;
      graph.unmarkDeletedInternal(*node);
      graph.updatePoint(prefix, *node, 1.0f);
      return;
    }
  }
  graph.addPoint(prefix, id);  // an existing label is re-linked (and undeleted)
}

void HnswIndex::Upsert(const VectorTable& table, RowId row) {
  std::vector<float> prefix(params_.graph_dims);
  std::vector<float> scratch(params_.graph_dims);
  PreparePrefix(table.RowPrefix(row, params_.graph_dims, scratch.data()), prefix.data());
  Link(prefix.data(), table.IdOf(row));
}

// What PrepareUpsert found for a new node: its prefix, its level and, for each layer it joins (the
// top one first), the ef_construction nearest nodes, farthest first: what hnswlib's addPoint hands
// its neighbour heuristic.
struct HnswIndex::PreparedLink : PreparedUpsert {
  uint64_t id = 0;
  int level = 0;
  int graph_max_level = 0;  // the graph's top layer and entry point when prepared
  tableint graph_entry_point = 0;
  std::vector<float> prefix;
  std::vector<std::vector<std::pair<float, tableint>>> candidates;
};

std::unique_ptr<PreparedUpsert> HnswIndex::PrepareUpsert(uint64_t id,
                                                         std::span<const float> vector) {
  HnswGraph& graph = *graph_->hnsw;
  if (graph.enterpoint_node_ == static_cast<tableint>(-1) || graph.num_deleted_ > 0 ||
      graph.label_lookup_.contains(id)) {
    return nullptr;
  }
  // This node's memory (it will be the next, or one of the few after while a hold's batch links),
  // touched before the exclusive hold that writes it.
  graph_->PrefaultNextNodes(kPrefaultNodes);
  auto link = std::make_unique<PreparedLink>();
  link->id = id;
  link->prefix.resize(params_.graph_dims);
  PreparePrefix(vector.data(), link->prefix.data());
  link->level = graph.getRandomLevel(graph.mult_);
  link->graph_max_level = graph.maxlevel_;
  link->graph_entry_point = graph.enterpoint_node_;
  const float* point = link->prefix.data();
  auto distance = [&](tableint node) {
    return graph.fstdistfunc_(point, graph.getDataByInternalId(node), graph.dist_func_param_);
  };
  // addPoint's walk: greedy through the layers above the node's, then a beam at ef_construction
  // on each layer it joins, from the nearest node the layer above found. The node is linked only
  // in ApplyUpsert, so no layer's search can meet it (as in addPoint, which links each layer after
  // searching it, and searches lower layers only).
  tableint current = graph.enterpoint_node_;
  float current_distance = distance(current);
  for (int level = link->graph_max_level; level > link->level; --level) {
    for (bool moved = true; moved;) {
      moved = false;
      unsigned int* header = graph.get_linklist(current, level);
      const auto* links = reinterpret_cast<const tableint*>(header + 1);
      for (size_t i = 0, count = graph.getListCount(header); i < count; ++i) {
        if (const float d = distance(links[i]); d < current_distance) {
          current_distance = d;
          current = links[i];
          moved = true;
        }
      }
    }
  }
  for (int level = std::min(link->level, link->graph_max_level); level >= 0; --level) {
    auto top = graph.searchBaseLayer(current, point, level);
    if (top.empty()) return nullptr;  // no live node reached: left to addPoint
    std::vector<std::pair<float, tableint>>& found = link->candidates.emplace_back();
    for (; !top.empty(); top.pop()) found.push_back(top.top());
    current = found.back().second;
  }
  return link;
}

bool HnswIndex::UpkeepStep() {
  Graph& graph = *graph_;
  if (graph.growth == nullptr) {
    if (graph.hnsw->cur_element_count + kGrowAhead < graph.hnsw->max_elements_) return false;
    graph.growth = std::make_unique<GraphGrowth>(*graph.hnsw);
    graph.marked_during_growth.clear();
  }
  return graph.growth->CopyStep(*graph.hnsw);
}

void HnswIndex::ApplyUpsert(const VectorTable& table, RowId row,
                            std::unique_ptr<PreparedUpsert> prepared) {
  HnswGraph& graph = *graph_->hnsw;
  const auto* link = dynamic_cast<const PreparedLink*>(prepared.get());
  // Since Prepare only Remove can have run: it marks nodes deleted (they stay valid neighbours)
  // but neither adds nodes nor moves the entry point. Anything else: the whole insert, here.
  if (link == nullptr || link->id != table.IdOf(row) || graph.label_lookup_.contains(link->id) ||
      graph.maxlevel_ != link->graph_max_level ||
      graph.enterpoint_node_ != link->graph_entry_point) {
    Upsert(table, row);
    return;
  }
  graph_->EnsureRoomForNode();
  // addPoint's node set-up, then its linking, with the candidates found beforehand.
  const auto node = static_cast<tableint>(graph.cur_element_count);
  ++graph.cur_element_count;
  graph.label_lookup_[link->id] = node;
  graph.element_levels_[node] = link->level;
  std::memset(graph.data_level0_memory_ + node * graph.size_data_per_element_ + graph.offsetLevel0_,
              0, graph.size_data_per_element_);
  const hnswlib::labeltype label = link->id;
  std::memcpy(graph.getExternalLabeLp(node), &label, sizeof(label));
  std::memcpy(graph.getDataByInternalId(node), link->prefix.data(), graph.data_size_);
  if (link->level > 0) {
    const size_t bytes = graph.size_links_per_element_ * link->level + 1;
    // malloc: hnswlib frees upper-layer lists with free().
    graph.linkLists_[node] = static_cast<char*>(std::malloc(bytes));
    if (graph.linkLists_[node] == nullptr) throw std::bad_alloc();
    std::memset(graph.linkLists_[node], 0, bytes);
  }
  int level = std::min(link->level, link->graph_max_level);
  for (const std::vector<std::pair<float, tableint>>& found : link->candidates) {
    std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>,
                        HnswGraph::CompareByFirst>
        top(found.begin(), found.end());
    graph.mutuallyConnectNewElement(link->prefix.data(), node, top, level, false);
    --level;
  }
  if (link->level > link->graph_max_level) {
    graph.enterpoint_node_ = node;
    graph.maxlevel_ = link->level;
  }
}

void HnswIndex::Remove(RowId /*row*/, uint64_t id) {
  HnswGraph& graph = *graph_->hnsw;
  const auto it = graph.label_lookup_.find(id);
  if (it != graph.label_lookup_.end() && !graph.isMarkedDeleted(it->second)) {
    graph_->MarkDeleted(it->second);
  }
}

}  // namespace adanns::index
