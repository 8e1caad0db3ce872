// AdANNS-HNSW: graph build through hnswlib, our own search loop over its layers, re-rank, and
// serialization (through a memfd, as hnswlib only saves to a path). Inserts, deletes and growth
// are in hnsw_writes.cc.
#include "index/hnsw_index.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/blob_io.h"
#include "base/status_macros.h"
#include "index/flat_search.h"
#include "index/hnsw_graph.h"
#include "index/hnsw_graph_check.h"
#include "index/memory_file.h"
#include "index/prefix.h"
#include "index/stage_scorer.h"
#include "index/topk.h"
#include "index/visited_set.h"

namespace adanns::index {
namespace {

using hnsw_internal::AdviseGraphMemory;
using hnsw_internal::HnswGraph;
using hnsw_internal::kCapacitySlack;
using hnsw_internal::PrefixSpace;
using hnsw_internal::tableint;

constexpr char kMagic[8] = {'A', 'D', 'N', 'S', 'H', 'N', 'S', 'W'};
constexpr char kParamsMagic[8] = {'A', 'D', 'N', 'S', 'H', 'N', 'S', 'P'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kBuildChunkRows = 16384;
constexpr uint32_t kMaxEf = 100'000;
constexpr uint32_t kMaxM = 256;
// Bottom-layer links per node: 2 * M.
constexpr size_t kMaxLinksPerNode = 2 * kMaxM;
constexpr uint32_t kDefaultGraphDims = 128;
constexpr uint32_t kDefaultEf = 64;

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

// graph_dims defaults within the table's resident prefix (`resident_dims`).
absl::StatusOr<HnswBuildParams> ResolveParams(HnswBuildParams params, uint32_t dim,
                                              uint32_t resident_dims) {
  if (params.graph_dims == 0) params.graph_dims = std::min(resident_dims, kDefaultGraphDims);
  RETURN_IF_ERROR(CheckBuildPrefix("hnsw.graph_dims", params.graph_dims, dim, resident_dims));
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

}  // namespace

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

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Build(
    const TableAccess& access, Metric metric, const HnswBuildParams& requested, int threads,
    const Progress& progress, const std::atomic<bool>* cancel, const HeldOutRows& held_out) {
  uint32_t dim = 0, resident_dims = 0;
  size_t rows = 0, live = 0;
  access([&](const VectorTable& table) {
    dim = table.dim();
    resident_dims = table.resident_dims();
    rows = table.row_count();
    live = table.size();
  });
  ASSIGN_OR_RETURN(const HnswBuildParams params, ResolveParams(requested, dim, resident_dims));
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
  std::vector<float> scratch(dims);
  size_t inserted = 0;
  for (size_t begin = 0; begin < rows; begin += kBuildChunkRows) {
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("HNSW build cancelled");
    ids.clear();
    prefixes.clear();
    access([&](const VectorTable& table) {
      const size_t end = std::min(rows, begin + kBuildChunkRows);
      for (size_t r = begin; r < end; ++r) {
        const auto row = static_cast<RowId>(r);
        if (!held_out.Keeps(table, row)) continue;
        ids.push_back(table.IdOf(row));
        prefixes.resize(prefixes.size() + dims);
        index->PreparePrefix(table.RowPrefix(row, dims, scratch.data()),
                             prefixes.data() + prefixes.size() - dims);
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
  if (!ResolveParams(params, dim, table.resident_dims()).ok() || params.graph_dims == 0) {
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
  std::vector<float> scratch(params.graph_dims);
  for (size_t r = 0; r < table.row_count(); ++r) {
    const auto row = static_cast<RowId>(r);
    if (!table.IsLive(row)) continue;
    index->PreparePrefix(table.RowPrefix(row, params.graph_dims, scratch.data()), prefix.data());
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
