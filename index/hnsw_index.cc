// AdANNS-HNSW: graph build through hnswlib, our own search loop over its layers, re-rank,
// serialization (through a memfd, as hnswlib only saves to a path) and write maintenance.
#include "index/hnsw_index.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <queue>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
// hnswlib's own SIMD spaces are unused (our PrefixSpace supplies the distance); without this it
// also defines non-inline CPU-probe functions that clash with the hnswlib baseline's in
// adanns-bench.
#define NO_MANUAL_VECTORIZATION
#include "base/blob_io.h"
#include "base/status_macros.h"
#include "hnswlib/hnswlib.h"
#include "index/distance.h"
#include "index/flat_search.h"
#include "index/hnsw_graph_check.h"
#include "index/huge_pages.h"
#include "index/memory_file.h"
#include "index/prefix.h"
#include "index/stage_scorer.h"
#include "index/topk.h"
#include "index/visited_set.h"
#include "index/work_counter.h"

namespace adanns::index {
namespace {

constexpr char kMagic[8] = {'A', 'D', 'N', 'S', 'H', 'N', 'S', 'W'};
constexpr char kParamsMagic[8] = {'A', 'D', 'N', 'S', 'H', 'N', 'S', 'P'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kBuildChunkRows = 16384;
constexpr size_t kCapacitySlack = 1024;
constexpr uint32_t kMaxEf = 100'000;
constexpr uint32_t kMaxM = 256;
// Bottom-layer links per node: 2 * M.
constexpr size_t kMaxLinksPerNode = 2 * kMaxM;
constexpr uint32_t kDefaultGraphDims = 128;
constexpr uint32_t kDefaultEf = 64;
constexpr RowId kNoRow = std::numeric_limits<RowId>::max();

using hnswlib::tableint;
using HnswGraph = hnswlib::HierarchicalNSW<float>;

struct SpaceParam {
  const DistanceKernels* kernels;
  size_t dims;
};

// Prefixes are stored normalised for cosine, so inner product and cosine both rank by -dot.
float L2Distance(const void* a, const void* b, const void* param) {
  const auto* p = static_cast<const SpaceParam*>(param);
  return p->kernels->l2_sqr_one(static_cast<const float*>(a), static_cast<const float*>(b),
                                p->dims);
}

float NegativeDot(const void* a, const void* b, const void* param) {
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

void PutParams(std::string& out, const HnswBuildParams& params) {
  AppendPod(out, params.graph_dims);
  AppendPod(out, params.m);
  AppendPod(out, params.ef_construction);
  AppendPod(out, params.seed);
}

bool GetParams(BlobReader& reader, HnswBuildParams* params) {
  return reader.Get(&params->graph_dims) && reader.Get(&params->m) &&
         reader.Get(&params->ef_construction) && reader.Get(&params->seed);
}

absl::StatusOr<HnswBuildParams> ResolveParams(HnswBuildParams params, uint32_t dim) {
  if (params.graph_dims == 0) params.graph_dims = std::min(dim, kDefaultGraphDims);
  if (params.graph_dims > dim) {
    return absl::InvalidArgumentError(absl::StrCat("hnsw.graph_dims must be in 1..", dim,
                                                   " (0 = default), got ", params.graph_dims));
  }
  if (params.m < 2 || params.m > kMaxM) {
    return absl::InvalidArgumentError(
        absl::StrCat("hnsw.M must be in 2..", kMaxM, ", got ", params.m));
  }
  if (params.ef_construction == 0 || params.ef_construction > kMaxEf) {
    return absl::InvalidArgumentError(absl::StrCat("hnsw.ef_construction must be in 1..", kMaxEf,
                                                   ", got ", params.ef_construction));
  }
  return params;
}

// The bottom layer (links and prefixes of every node) is what a search walks at random.
void AdviseGraphMemory(const HnswGraph& graph) {
  AdviseHugePages(graph.data_level0_memory_, graph.max_elements_ * graph.size_data_per_element_);
}

size_t GrownCapacity(const HnswGraph& graph) {
  return graph.max_elements_ + graph.max_elements_ / 2 + kCapacitySlack;
}

// Nodes still free when the graph starts growing (more than the absorber links per hold).
constexpr size_t kGrowAhead = 64;
// Bytes of the graph one upkeep step copies (a few milliseconds under a shared hold).
constexpr size_t kGrowthStepBytes = size_t{4} << 20;

// The graph's node arrays copied into bigger ones in steps, each under its own shared hold, then
// swapped in under the exclusive hold. hnswlib's resizeIndex reallocates and copies the whole
// graph in one go (70 MB at 60k nodes of 256 dims, about 250 ms here); under any hold that a
// writer waits behind, every search would wait as long. While a growth is under way the graph
// gains no node (its only inserter is busy copying), so only Remove's deleted marks can change
// what was copied: those nodes are copied again at the swap.
class GraphGrowth {
 public:
  explicit GraphGrowth(const HnswGraph& graph)
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
  ~GraphGrowth() {
    std::free(level0_);
    std::free(link_lists_);
  }
  GraphGrowth(const GraphGrowth&) = delete;
  GraphGrowth& operator=(const GraphGrowth&) = delete;

  // Copies the next kGrowthStepBytes of nodes. False once every node is copied.
  bool CopyStep(const HnswGraph& graph) {
    const size_t step = std::max<size_t>(1, kGrowthStepBytes / node_bytes_);
    const size_t end = std::min(nodes_, copied_ + step);
    std::memcpy(level0_ + copied_ * node_bytes_, graph.data_level0_memory_ + copied_ * node_bytes_,
                (end - copied_) * node_bytes_);
    std::memcpy(link_lists_ + copied_, graph.linkLists_ + copied_, (end - copied_) * sizeof(char*));
    copied_ = end;
    return copied_ < nodes_;
  }
  // Whether the copy is whole and the graph still has the nodes it copied.
  bool Ready(const HnswGraph& graph) const {
    return copied_ == nodes_ && graph.cur_element_count == nodes_;
  }
  // Swaps the copy in (exclusive hold), copying again the nodes marked deleted since it began.
  void SwapInto(HnswGraph& graph, std::span<const tableint> marked) {
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

}  // namespace

struct HnswIndex::Graph {
  Graph(Metric metric, size_t dims) : space(metric, dims) {}
  PrefixSpace space;
  std::unique_ptr<HnswGraph> hnsw;
  // Nodes marked deleted, for new ids to take over (entries undeleted since are skipped).
  std::vector<tableint> deleted_nodes;
  std::unique_ptr<GraphGrowth> growth;  // under way (UpkeepStep), taken by the next insert
  std::vector<tableint> marked_during_growth;
  uint64_t growths_swapped_in = 0, growths_in_hold = 0;

  void MarkDeleted(tableint node) {
    hnsw->markDeletedInternal(node);
    deleted_nodes.push_back(node);
    if (growth != nullptr) marked_during_growth.push_back(node);
  }
  // Before an insert that may add a node (exclusive hold): swaps in a finished growth, and grows
  // in place (the slow way) only when the graph is full without one.
  void EnsureRoomForNode() {
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
  // A node still marked deleted, if any.
  std::optional<tableint> TakeDeleted() {
    while (!deleted_nodes.empty()) {
      const tableint node = deleted_nodes.back();
      deleted_nodes.pop_back();
      if (hnsw->isMarkedDeleted(node)) return node;
    }
    return std::nullopt;
  }
};

std::string EncodeHnswBuildParams(const HnswBuildParams& params) {
  std::string out(kParamsMagic, sizeof(kParamsMagic));
  PutParams(out, params);
  return out;
}

absl::StatusOr<HnswBuildParams> DecodeHnswBuildParams(std::string_view bytes) {
  if (bytes.size() < sizeof(kParamsMagic) ||
      std::memcmp(bytes.data(), kParamsMagic, sizeof(kParamsMagic)) != 0) {
    return absl::DataLossError("not an encoding of HNSW build parameters");
  }
  BlobReader reader(bytes.substr(sizeof(kParamsMagic)));
  HnswBuildParams params;
  if (!GetParams(reader, &params) || !reader.done()) {
    return absl::DataLossError("HNSW build parameters truncated or too long");
  }
  return params;
}

HnswIndex::HnswIndex(Metric metric, uint32_t dim, HnswBuildParams params)
    : metric_(metric),
      dim_(dim),
      params_(params),
      graph_(std::make_unique<Graph>(metric, params.graph_dims)) {}

HnswIndex::~HnswIndex() = default;

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

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Build(const TableAccess& access,
                                                            Metric metric,
                                                            const HnswBuildParams& requested,
                                                            int threads, const Progress& progress,
                                                            const std::atomic<bool>* cancel) {
  uint32_t dim = 0;
  size_t rows = 0, live = 0;
  access([&](const VectorTable& table) {
    dim = table.dim();
    rows = table.row_count();
    live = table.size();
  });
  ASSIGN_OR_RETURN(const HnswBuildParams params, ResolveParams(requested, dim));
  std::unique_ptr<HnswIndex> index(new HnswIndex(metric, dim, params));
  index->trained_vectors_ = live;
  try {
    index->graph_->hnsw =
        std::make_unique<HnswGraph>(&index->graph_->space, rows + kCapacitySlack, params.m,
                                    params.ef_construction, params.seed);
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("HNSW graph allocation failed: ", e.what()));
  }
  HnswGraph& graph = *index->graph_->hnsw;
  AdviseGraphMemory(graph);  // still untouched: nodes fault in as huge pages
  const uint32_t dims = params.graph_dims;
  std::vector<uint64_t> ids;
  std::vector<float> prefixes;
  size_t inserted = 0;
  for (size_t begin = 0; begin < rows; begin += kBuildChunkRows) {
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("HNSW build cancelled");
    ids.clear();
    prefixes.clear();
    access([&](const VectorTable& table) {
      const size_t end = std::min(rows, begin + kBuildChunkRows);
      for (size_t r = begin; r < end; ++r) {
        const auto row = static_cast<RowId>(r);
        if (!table.IsLive(row)) continue;
        ids.push_back(table.IdOf(row));
        prefixes.resize(prefixes.size() + dims);
        index->PreparePrefix(table.RowData(row), prefixes.data() + prefixes.size() - dims);
      }
    });
    size_t first = 0;
    if (graph.cur_element_count == 0 && !ids.empty()) {  // the entry point, alone
      graph.addPoint(prefixes.data(), ids[0]);
      first = 1;
    }
    std::atomic<bool> failed{false};
    std::string error;
#pragma omp parallel for schedule(dynamic, 64) num_threads(std::max(1, threads))
    for (size_t i = first; i < ids.size(); ++i) {
      // A chunk takes seconds at a million vectors: stop promptly when cancelled (DropIndex waits).
      if (failed.load(std::memory_order_relaxed) || (cancel != nullptr && cancel->load())) continue;
      try {
        graph.addPoint(prefixes.data() + i * dims, ids[i]);
      } catch (const std::exception& e) {
#pragma omp critical
        {
          failed = true;
          error = e.what();
        }
      }
    }
    if (failed) return absl::InternalError(absl::StrCat("HNSW insert failed: ", error));
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("HNSW build cancelled");
    inserted += ids.size();
    if (progress) progress(live == 0 ? 1.0 : std::min(1.0, double(inserted) / double(live)));
  }
  return index;
}

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Build(const VectorTable& table, Metric metric,
                                                            const HnswBuildParams& params,
                                                            int threads) {
  return Build([&table](const std::function<void(const VectorTable&)>& read) { read(table); },
               metric, params, threads);
}

void HnswIndex::Upsert(const VectorTable& table, RowId row) {
  std::vector<float> prefix(params_.graph_dims);
  PreparePrefix(table.RowData(row), prefix.data());
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

std::unique_ptr<PreparedUpsert> HnswIndex::PrepareUpsert(const VectorTable& table, RowId row) {
  HnswGraph& graph = *graph_->hnsw;
  const uint64_t id = table.IdOf(row);
  if (graph.enterpoint_node_ == static_cast<tableint>(-1) || graph.num_deleted_ > 0 ||
      graph.label_lookup_.contains(id)) {
    return nullptr;
  }
  auto link = std::make_unique<PreparedLink>();
  link->id = id;
  link->prefix.resize(params_.graph_dims);
  PreparePrefix(table.RowData(row), link->prefix.data());
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

absl::StatusOr<Plan> HnswIndex::ResolvePlan(const Plan& requested, uint32_t k) const {
  if (k == 0 || k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in 1..", kMaxK, ", got ", k));
  }
  if (requested.coarse_dims.has_value() || requested.nprobe.has_value()) {
    return absl::InvalidArgumentError(
        "plan.coarse_dims and plan.nprobe are IVF parameters; index 'hnsw' does not use them");
  }
  const uint32_t graph_dims = params_.graph_dims;
  if (requested.search_dims.has_value() && *requested.search_dims != graph_dims) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan.search_dims of index 'hnsw' is its graph_dims (", graph_dims, "), got ",
                     *requested.search_dims, "; build another graph for another prefix"));
  }
  Plan plan = requested;
  plan.index = "hnsw";
  plan.search_dims = graph_dims;
  uint32_t ef = requested.ef.value_or(std::max(kDefaultEf, k));
  if (ef == 0 || ef > kMaxEf) {
    return absl::InvalidArgumentError(absl::StrCat("plan.ef must be in 1..", kMaxEf, ", got ", ef));
  }
  if (requested.has_rerank() || graph_dims < dim_) {
    plan.rerank_dims = requested.rerank_dims.value_or(dim_);
    if (*plan.rerank_dims < graph_dims || *plan.rerank_dims > dim_) {
      return absl::InvalidArgumentError(absl::StrCat("plan.rerank_dims must be in ", graph_dims,
                                                     "..", dim_, " (graph_dims..dim), got ",
                                                     *plan.rerank_dims));
    }
    plan.rerank_candidates = requested.rerank_candidates.value_or(std::max(ef, k));
    if (*plan.rerank_candidates < k || *plan.rerank_candidates > kMaxEf) {
      return absl::InvalidArgumentError(absl::StrCat("plan.rerank_candidates must be in ", k, "..",
                                                     kMaxEf, " (k..", kMaxEf, "), got ",
                                                     *plan.rerank_candidates));
    }
    ef = std::max(ef, *plan.rerank_candidates);
  }
  plan.ef = std::max(ef, k);
  return plan;
}

SearchResult HnswIndex::Search(const VectorTable& table, std::span<const float> query, uint32_t k,
                               const Plan& resolved) const {
  SearchResult result;
  result.plan = resolved;
  const HnswGraph& graph = *graph_->hnsw;
  if (graph.cur_element_count == 0 || graph.enterpoint_node_ == static_cast<tableint>(-1)) {
    return result;
  }
  // Under a cap the walk stops at the distance computations it allows, keeping what it found.
  const uint64_t max_computations =
      ScanRowCap(resolved, RerankFlops(resolved, metric_), params_.graph_dims);
  if (max_computations == 0) return CappedOut(resolved);
  const PrefixSpace& space = graph_->space;
  std::vector<float> prefix(params_.graph_dims);
  PreparePrefix(query.data(), prefix.data());
  uint64_t computations = 0;
  auto distance = [&](tableint node) {
    ++computations;
    return space.Distance(prefix.data(), graph.getDataByInternalId(node));
  };
  auto exhausted = [&] { return computations >= max_computations; };

  // Greedy descent through the upper layers.
  tableint current = graph.enterpoint_node_;
  float current_distance = distance(current);
  for (int level = graph.maxlevel_; level > 0 && !exhausted(); --level) {
    for (bool moved = true; moved && !exhausted();) {
      moved = false;
      unsigned int* header = graph.get_linklist(current, level);
      const auto* links = reinterpret_cast<const tableint*>(header + 1);
      const size_t count = graph.getListCount(header);
      for (size_t i = 0; i < count && !exhausted(); ++i) {
        const float d = distance(links[i]);
        if (d < current_distance) {
          current_distance = d;
          current = links[i];
          moved = true;
        }
      }
    }
  }

  // Beam search on the bottom layer; deleted nodes route but are never results.
  using Entry = std::pair<float, tableint>;
  const size_t ef = *resolved.ef;
  auto node_prefix = [&graph](tableint node) {
    return reinterpret_cast<const float*>(graph.getDataByInternalId(node));
  };
  thread_local VisitedSet visited;
  visited.Reset(graph.max_elements_);
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> frontier;  // nearest first
  std::priority_queue<Entry> best;                                          // farthest first
  // The deleted flag sits in another cache line than the prefix: read it only when needed.
  const bool has_deletions = graph.num_deleted_ > 0;
  auto deleted = [&](tableint node) { return has_deletions && graph.isMarkedDeleted(node); };
  visited.Visit(current);
  frontier.emplace(current_distance, current);
  if (!deleted(current)) best.emplace(current_distance, current);
  float bound = best.empty() ? std::numeric_limits<float>::max() : current_distance;
  while (!frontier.empty() && !exhausted()) {
    const auto [d, node] = frontier.top();
    if (d > bound && best.size() >= ef) break;
    frontier.pop();
    unsigned int* header = graph.get_linklist0(node);
    const auto* links = reinterpret_cast<const tableint*>(header + 1);
    const size_t count = graph.getListCount(header);
    // Unvisited neighbours first, with all their prefixes requested at once: the walk is bound by
    // memory latency, and overlapping the misses of a whole neighbourhood hides most of it.
    tableint fresh[kMaxLinksPerNode];
    size_t fresh_count = 0;
    for (size_t i = 0; i < count; ++i) visited.Prefetch(links[i]);
    for (size_t i = 0; i < count && fresh_count < kMaxLinksPerNode; ++i) {
      if (!visited.Visit(links[i])) continue;
      fresh[fresh_count++] = links[i];
      PrefetchPrefix(node_prefix(links[i]), params_.graph_dims);
    }
    for (size_t i = 0; i < fresh_count && !exhausted(); ++i) {
      const tableint next = fresh[i];
      const float dn = distance(next);
      if (best.size() < ef || dn < bound) {
        frontier.emplace(dn, next);
        if (!deleted(next)) {
          best.emplace(dn, next);
          if (best.size() > ef) best.pop();
        }
        if (!best.empty()) bound = best.top().first;
      }
    }
  }

  // Best first; only as many as the next stage takes are looked up as table rows (an id the
  // table no longer holds is skipped).
  std::vector<Entry> ranked(best.size());
  for (size_t i = best.size(); i-- > 0; best.pop()) ranked[i] = best.top();
  const size_t needed = resolved.has_rerank() ? *resolved.rerank_candidates : k;
  std::vector<ScoredRow> candidates;
  candidates.reserve(std::min(needed, ranked.size()));
  for (const auto& [d, node] : ranked) {
    if (candidates.size() == needed) break;
    if (const std::optional<RowId> row = table.RowOf(graph.getExternalLabel(node))) {
      candidates.push_back({d, *row});
    }
  }

  double flops = static_cast<double>(computations) * params_.graph_dims;
  result.hits = FinishCandidates(table, metric_, query, k, resolved, std::move(candidates), flops);
  result.cost.mflops = flops / 1e6;
  result.cost.vectors_scanned = computations;
  result.cost.capped = exhausted() && max_computations != UINT64_MAX;
  return result;
}

HnswStats HnswIndex::stats() const {
  const HnswGraph& graph = *graph_->hnsw;
  HnswStats stats;
  stats.graph_dims = params_.graph_dims;
  stats.m = params_.m;
  stats.nodes = graph.cur_element_count;
  stats.deleted = graph.num_deleted_;
  stats.trained_vectors = trained_vectors_;
  stats.growths_swapped_in = graph_->growths_swapped_in;
  stats.growths_in_hold = graph_->growths_in_hold;
  stats.growing = graph_->growth != nullptr;
  stats.graph_bytes = graph.max_elements_ * graph.size_data_per_element_;
  for (size_t node = 0; node < graph.cur_element_count; ++node) {
    stats.graph_bytes += graph.size_links_per_element_ * std::max(0, graph.element_levels_[node]);
  }
  return stats;
}

size_t HnswIndex::memory_bytes() const {
  // Links and prefixes, plus the label map (about two words per entry and a bucket).
  const HnswGraph& graph = *graph_->hnsw;
  return stats().graph_bytes + graph.label_lookup_.size() * 4 * sizeof(void*);
}

std::vector<std::pair<std::string, double>> HnswIndex::described_params() const {
  return {{"graph_dims", params_.graph_dims},
          {"M", params_.m},
          {"ef_construction", params_.ef_construction},
          {"seed", static_cast<double>(params_.seed)}};
}

absl::StatusOr<std::string> HnswIndex::Serialize() const {
  std::string graph_bytes;
  MemoryFile file("adanns-hnsw");
  if (!file.ok()) return absl::InternalError("HNSW save: memfd_create failed");
  try {
    graph_->hnsw->saveIndex(file.path());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("HNSW save failed: ", e.what()));
  }
  if (!file.ReadAll(&graph_bytes))
    return absl::InternalError("HNSW save: reading the memfd failed");
  std::string out(kMagic, sizeof(kMagic));
  AppendIndexHeader(out, kFormatVersion, metric_, dim_);
  PutParams(out, params_);
  AppendPod(out, trained_vectors_);
  AppendPod(out, static_cast<uint64_t>(graph_bytes.size()));
  out.append(graph_bytes);
  SealBlob(out);
  return out;
}

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Deserialize(std::string_view bytes,
                                                                  const VectorTable& table,
                                                                  Metric metric) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("HNSW blob rejected: ", why));
  };
  ASSIGN_OR_RETURN(const std::string_view body, OpenBlob(bytes, kMagic, "HNSW"));
  BlobReader reader(body);
  const uint32_t dim = table.dim();
  RETURN_IF_ERROR(ReadIndexHeader(reader, kFormatVersion, metric, dim, "HNSW"));
  uint64_t trained = 0, graph_size = 0;
  HnswBuildParams params;
  if (!GetParams(reader, &params) || !reader.Get(&trained) || !reader.Get(&graph_size)) {
    return corrupt("truncated header");
  }
  if (!ResolveParams(params, dim).ok() || params.graph_dims == 0) {
    return corrupt("parameters do not match the collection");
  }
  std::string_view graph_bytes;
  if (!reader.GetBytes(graph_size, &graph_bytes) || !reader.done()) {
    return corrupt("graph size does not match the blob");
  }
  if (absl::Status graph =
          CheckHnswGraphBytes(graph_bytes, params.graph_dims, params.m, params.ef_construction);
      !graph.ok()) {
    return corrupt(graph.message());
  }
  std::unique_ptr<HnswIndex> index(new HnswIndex(metric, dim, params));
  index->trained_vectors_ = trained;
  MemoryFile file("adanns-hnsw");
  if (!file.ok() || !file.Write(graph_bytes)) {
    return absl::InternalError("HNSW load: cannot stage the graph in memory (memfd)");
  }
  try {
    index->graph_->hnsw = std::make_unique<HnswGraph>(&index->graph_->space, file.path(), false,
                                                      table.row_count() + kCapacitySlack);
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
  HnswGraph& graph = *index->graph_->hnsw;
  AdviseGraphMemory(graph);  // loaded already: khugepaged collapses it over time
  if (graph.data_size_ != params.graph_dims * sizeof(float)) {
    return corrupt("graph prefix size does not match graph_dims");
  }

  // Reconcile with the store: deletes first (marking does not move labels), then new or changed
  // vectors, so writes made after the blob are never lost.
  for (tableint node = 0; node < graph.cur_element_count; ++node) {
    if (graph.isMarkedDeleted(node)) index->graph_->deleted_nodes.push_back(node);
  }
  for (const auto& [id, node] : graph.label_lookup_) {
    if (!graph.isMarkedDeleted(node) && !table.RowOf(id).has_value()) {
      index->graph_->MarkDeleted(node);
    }
  }
  std::vector<float> prefix(params.graph_dims);
  for (size_t r = 0; r < table.row_count(); ++r) {
    const auto row = static_cast<RowId>(r);
    if (!table.IsLive(row)) continue;
    index->PreparePrefix(table.RowData(row), prefix.data());
    const auto it = graph.label_lookup_.find(table.IdOf(row));
    if (it == graph.label_lookup_.end() || graph.isMarkedDeleted(it->second) ||
        std::memcmp(graph.getDataByInternalId(it->second), prefix.data(),
                    prefix.size() * sizeof(float)) != 0) {
      index->Link(prefix.data(), table.IdOf(row));
    }
  }
  return index;
}

}  // namespace adanns::index
