// AdANNS-IVF build, maintenance, search and serialization.
#include "index/ivf_index.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/blob_io.h"
#include "base/status_macros.h"
#include "index/flat_search.h"
#include "index/kmeans.h"
#include "index/prefix.h"
#include "index/stage_scorer.h"
#include "index/topk.h"

namespace adanns::index {
namespace {

constexpr char kMagic[8] = {'A', 'D', 'N', 'S', 'I', 'V', 'F', '1'};
constexpr char kParamsMagic[8] = {'A', 'D', 'N', 'S', 'I', 'V', 'F', 'P'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kAssignChunkRows = 16384;

// Copies the `dims` prefix of each row (normalised for cosine) into a contiguous buffer.
void GatherPrefixes(const VectorTable& table, std::span<const RowId> rows, uint32_t dims,
                    Metric metric, float* out) {
  std::vector<float> scratch(dims);
  for (size_t i = 0; i < rows.size(); ++i) {
    CopyPrefix(table.RowPrefix(rows[i], dims, scratch.data()), dims, metric, out + i * dims);
  }
}

// Prefixes default within the table's resident prefix (`resident_dims`).
absl::StatusOr<IvfBuildParams> ResolveBuildParams(IvfBuildParams params, uint32_t dim,
                                                  uint32_t resident_dims, size_t vectors) {
  if (vectors == 0) return absl::FailedPreconditionError("cannot build an IVF on no vectors");
  if (params.nlist == 0) {
    params.nlist = std::max<uint32_t>(1, std::lround(4.0 * std::sqrt(double(vectors))));
  }
  if (params.nlist > vectors) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ivf.nlist (", params.nlist, ") exceeds the number of vectors (", vectors, ")"));
  }
  if (params.coarse_dims == 0) params.coarse_dims = std::min(resident_dims, 64u);
  if (params.search_dims == 0) params.search_dims = std::min(resident_dims, 128u);
  RETURN_IF_ERROR(CheckBuildPrefix("ivf.coarse_dims", params.coarse_dims, dim, resident_dims));
  RETURN_IF_ERROR(CheckBuildPrefix("ivf.search_dims", params.search_dims, dim, resident_dims));
  if (params.kmeans_iterations == 0) {
    return absl::InvalidArgumentError("ivf.kmeans_iterations must be at least 1");
  }
  const uint64_t default_sample = std::min<uint64_t>(vectors, 256ull * params.nlist);
  if (params.training_sample == 0) params.training_sample = static_cast<uint32_t>(default_sample);
  params.training_sample =
      static_cast<uint32_t>(std::clamp<uint64_t>(params.training_sample, params.nlist, vectors));
  return params;
}

void PutParams(std::string& out, const IvfBuildParams& params) {
  AppendPod(out, params.nlist);
  AppendPod(out, params.coarse_dims);
  AppendPod(out, params.search_dims);
  AppendPod(out, params.kmeans_iterations);
  AppendPod(out, params.training_sample);
  AppendPod(out, params.seed);
}

bool GetParams(BlobReader& reader, IvfBuildParams* params) {
  return reader.Get(&params->nlist) && reader.Get(&params->coarse_dims) &&
         reader.Get(&params->search_dims) && reader.Get(&params->kmeans_iterations) &&
         reader.Get(&params->training_sample) && reader.Get(&params->seed);
}

}  // namespace

std::string EncodeBuildParams(const IvfBuildParams& params) {
  std::string out(kParamsMagic, sizeof(kParamsMagic));
  PutParams(out, params);
  return out;
}

absl::StatusOr<IvfBuildParams> DecodeBuildParams(std::string_view bytes) {
  IvfBuildParams params;
  if (bytes.size() < sizeof(kParamsMagic) ||
      std::memcmp(bytes.data(), kParamsMagic, sizeof(kParamsMagic)) != 0) {
    return absl::DataLossError("not an encoding of IVF build parameters");
  }
  BlobReader reader(bytes.substr(sizeof(kParamsMagic)));
  if (!GetParams(reader, &params) || !reader.done()) {
    return absl::DataLossError("IVF build parameters truncated or too long");
  }
  return params;
}

IvfIndex::IvfIndex(Metric metric, uint32_t dim, IvfBuildParams params, std::vector<float> centroids,
                   Precision table_precision)
    : metric_(metric),
      dim_(dim),
      params_(params),
      centroids_(std::move(centroids)),
      lists_(params.nlist),
      list_precision_(table_precision == Precision::kFloat16 ? Precision::kFloat16
                                                             : Precision::kFloat32),
      value_bytes_(BytesPerValue(list_precision_)) {}

absl::StatusOr<std::unique_ptr<IvfIndex>> IvfIndex::Build(const VectorTable& table, Metric metric,
                                                          const IvfBuildParams& params,
                                                          const Progress& progress,
                                                          const std::atomic<bool>* cancel) {
  return Build([&table](const auto& read) { read(table); }, metric, params, progress, cancel);
}

absl::StatusOr<std::unique_ptr<IvfIndex>> IvfIndex::Build(const TableAccess& access, Metric metric,
                                                          const IvfBuildParams& requested,
                                                          const Progress& progress,
                                                          const std::atomic<bool>* cancel,
                                                          const HeldOutRows& held_out) {
  // Training sample: a seeded shuffle of the live rows, so a build is reproducible.
  absl::StatusOr<IvfBuildParams> resolved;
  uint32_t dim = 0;
  uint64_t vectors_at_start = 0;
  Precision table_precision = Precision::kFloat32;
  std::vector<float> training;
  access([&](const VectorTable& table) {
    dim = table.dim();
    table_precision = table.precision();
    vectors_at_start = table.size();
    resolved = ResolveBuildParams(requested, table.dim(), table.resident_dims(), table.size());
    if (!resolved.ok()) return;
    std::vector<RowId> sample;
    sample.reserve(table.size());
    for (RowId row = 0; row < table.row_count(); ++row) {
      if (held_out.Keeps(table, row)) sample.push_back(row);
    }
    std::mt19937_64 rng(resolved->seed);
    std::shuffle(sample.begin(), sample.end(), rng);
    sample.resize(resolved->training_sample);
    training.resize(sample.size() * size_t{resolved->coarse_dims});
    GatherPrefixes(table, sample, resolved->coarse_dims, metric, training.data());
  });
  RETURN_IF_ERROR(resolved.status());
  const IvfBuildParams& params = *resolved;

  KMeansOptions kmeans;
  kmeans.clusters = params.nlist;
  kmeans.iterations = params.kmeans_iterations;
  kmeans.seed = params.seed;
  kmeans.spherical = metric == Metric::kCosine;
  kmeans.cancel = cancel;
  if (progress) kmeans.progress = [&progress](double f) { progress(0.7 * f); };
  ASSIGN_OR_RETURN(
      std::vector<float> centroids,
      TrainKMeans(training.data(), params.training_sample, params.coarse_dims, kmeans));
  training = {};

  std::unique_ptr<IvfIndex> index(
      new IvfIndex(metric, dim, params, std::move(centroids), table_precision));
  index->trained_vectors_ = vectors_at_start;
  // Assignment in chunks, each under its own short hold of the table.
  for (RowId begin = 0;; begin += kAssignChunkRows) {
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("IVF build cancelled");
    absl::Status status;
    size_t row_count = 0;
    access([&](const VectorTable& table) {
      row_count = table.row_count();
      if (begin >= row_count) return;
      status = index->AssignRange(
          table, begin, static_cast<RowId>(std::min<size_t>(row_count, begin + kAssignChunkRows)),
          held_out);
    });
    RETURN_IF_ERROR(status);
    if (begin + kAssignChunkRows >= row_count) break;
    if (progress) progress(0.7 + 0.3 * double(begin + kAssignChunkRows) / row_count);
  }
  index->TrimLists();
  if (progress) progress(1.0);
  return index;
}

void IvfIndex::TrimLists() {
  // Growth by appends leaves up to half of each list's capacity unused; a built index is mostly
  // read, and a later append reallocates one list.
  for (List& list : lists_) {
    list.rows.shrink_to_fit();
    list.values.shrink_to_fit();
  }
}

absl::Status IvfIndex::AssignRange(const VectorTable& table, RowId begin, RowId end,
                                   const HeldOutRows& held_out) {
  std::vector<RowId> rows;
  for (RowId row = begin; row < end; ++row) {
    if (held_out.Keeps(table, row)) rows.push_back(row);
  }
  if (rows.empty()) return absl::OkStatus();
  std::vector<float> prefixes(rows.size() * size_t{params_.coarse_dims});
  GatherPrefixes(table, rows, params_.coarse_dims, metric_, prefixes.data());
  const Metric assign_metric = metric_ == Metric::kL2 ? Metric::kL2 : Metric::kInnerProduct;
  ASSIGN_OR_RETURN(
      std::vector<uint32_t> lists,
      AssignNearest(prefixes.data(), rows.size(), centroids_, params_.coarse_dims, assign_metric));
  for (size_t i = 0; i < rows.size(); ++i) {
    RemoveRow(rows[i]);  // a row may already be placed (re-assignment)
    Append(table, rows[i], lists[i]);
  }
  return absl::OkStatus();
}

uint32_t IvfIndex::NearestList(const float* vector) const {
  StageScorer scorer(metric_, std::span<const float>(vector, params_.coarse_dims),
                     params_.coarse_dims);
  std::array<float, kScorerBlockRows> distances;
  uint32_t best = 0;
  float best_distance = std::numeric_limits<float>::infinity();
  for (uint32_t begin = 0; begin < params_.nlist; begin += kScorerBlockRows) {
    const size_t n = std::min<size_t>(kScorerBlockRows, params_.nlist - begin);
    scorer.Score(centroids_.data() + size_t{begin} * params_.coarse_dims, params_.coarse_dims, n,
                 distances.data());
    for (size_t i = 0; i < n; ++i) {
      if (distances[i] < best_distance) {
        best_distance = distances[i];
        best = begin + static_cast<uint32_t>(i);
      }
    }
  }
  return best;
}

void IvfIndex::Append(const VectorTable& table, RowId row, uint32_t list) {
  if (location_.size() <= row) location_.resize(size_t{row} + 1);
  List& target = lists_[list];
  location_[row] = {list, static_cast<uint32_t>(target.rows.size())};
  target.rows.push_back(row);
  const size_t slot_bytes = params_.search_dims * value_bytes_;
  target.values.resize(target.values.size() + slot_bytes);
  StorePrefix(table, row, target.values.data() + target.values.size() - slot_bytes);
}

void IvfIndex::StorePrefix(const VectorTable& table, RowId row, uint8_t* slot) const {
  const uint32_t dims = params_.search_dims;
  if (list_precision_ == Precision::kFloat32) {
    auto* prefix = reinterpret_cast<float*>(slot);
    const float* data = table.RowPrefix(row, dims, prefix);
    if (data != prefix) std::copy_n(data, dims, prefix);
    return;
  }
  std::vector<float> scratch(dims);
  EncodeFloat16(table.RowPrefix(row, dims, scratch.data()), dims,
                reinterpret_cast<uint16_t*>(slot));
}

namespace {
struct PreparedList final : PreparedUpsert {
  uint32_t list = 0;
};
}  // namespace

void IvfIndex::Upsert(const VectorTable& table, RowId row) {
  std::vector<float> scratch(params_.coarse_dims);
  Place(table, row, NearestList(table.RowPrefix(row, params_.coarse_dims, scratch.data())));
}

std::unique_ptr<PreparedUpsert> IvfIndex::PrepareUpsert(uint64_t /*id*/,
                                                        std::span<const float> vector) {
  auto prepared = std::make_unique<PreparedList>();
  prepared->list = NearestList(vector.data());
  return prepared;
}

void IvfIndex::ApplyUpsert(const VectorTable& table, RowId row,
                           std::unique_ptr<PreparedUpsert> prepared) {
  if (prepared == nullptr) return Upsert(table, row);
  // Should the row have changed since Prepare, the list may be stale; the change queued another
  // insert of the row, which places it again.
  Place(table, row, static_cast<const PreparedList&>(*prepared).list);
}

void IvfIndex::Place(const VectorTable& table, RowId row, uint32_t list) {
  if (row < location_.size() && location_[row].list == list) {
    // Same list: refresh the stored prefix in place.
    StorePrefix(table, row,
                lists_[list].values.data() +
                    size_t{location_[row].position} * params_.search_dims * value_bytes_);
    return;
  }
  RemoveRow(row);
  Append(table, row, list);
}

void IvfIndex::RemoveRow(RowId row) {
  if (row >= location_.size() || location_[row].list == kNoList) return;
  const Location where = location_[row];
  List& list = lists_[where.list];
  const uint32_t last = static_cast<uint32_t>(list.rows.size() - 1);
  if (where.position != last) {
    // Swap the last member into the hole.
    const RowId moved = list.rows[last];
    list.rows[where.position] = moved;
    const size_t slot_bytes = params_.search_dims * value_bytes_;
    std::copy_n(list.values.begin() + size_t{last} * slot_bytes, slot_bytes,
                list.values.begin() + size_t{where.position} * slot_bytes);
    location_[moved].position = where.position;
  }
  list.rows.pop_back();
  list.values.resize(list.values.size() - params_.search_dims * value_bytes_);
  location_[row] = {};
}

absl::Status IvfIndex::ResolveCandidates(Plan& plan) const {
  plan.coarse_dims = plan.coarse_dims.value_or(params_.coarse_dims);
  plan.nprobe = plan.nprobe.value_or(std::max(1u, params_.nlist / 16));
  if (*plan.coarse_dims == 0 || *plan.coarse_dims > params_.coarse_dims) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plan.coarse_dims must be in 1..", params_.coarse_dims, " (the IVF's centroids hold ",
        params_.coarse_dims, " dims), got ", *plan.coarse_dims));
  }
  if (*plan.nprobe == 0 || *plan.nprobe > params_.nlist) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan.nprobe must be in 1..", params_.nlist, " (nlist), got ", *plan.nprobe));
  }
  return absl::OkStatus();
}

absl::StatusOr<Plan> IvfIndex::ResolvePlan(const Plan& requested, uint32_t k) const {
  if (k == 0 || k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in 1..", kMaxK, ", got ", k));
  }
  Plan plan = requested;
  plan.index = "ivf";
  RETURN_IF_ERROR(ResolveCandidates(plan));
  plan.search_dims = requested.search_dims.value_or(params_.search_dims);
  if (*plan.search_dims == 0 || *plan.search_dims > params_.search_dims) {
    return absl::InvalidArgumentError(absl::StrCat(
        "plan.search_dims must be in 1..", params_.search_dims, " (the IVF's lists hold ",
        params_.search_dims, " dims), got ", *plan.search_dims));
  }
  if (!requested.has_rerank() && params_.search_dims >= dim_) return plan;
  plan.rerank_dims = requested.rerank_dims.value_or(dim_);
  plan.rerank_candidates = requested.rerank_candidates.value_or(std::max(10 * k, 100u));
  // The re-rank bounds are the flat funnel's.
  Plan funnel;
  funnel.search_dims = plan.search_dims;
  funnel.rerank_dims = plan.rerank_dims;
  funnel.rerank_candidates = plan.rerank_candidates;
  RETURN_IF_ERROR(ResolveFlatPlan(funnel, dim_, k).status());
  return plan;
}

std::vector<ScoredRow> IvfIndex::ProbeLists(std::span<const float> query,
                                            const Plan& resolved) const {
  std::array<float, kScorerBlockRows> distances;
  StageScorer coarse(metric_, query, *resolved.coarse_dims,
                     *resolved.coarse_dims == params_.coarse_dims);
  TopK probe(*resolved.nprobe);
  for (uint32_t begin = 0; begin < params_.nlist; begin += kScorerBlockRows) {
    const size_t n = std::min<size_t>(kScorerBlockRows, params_.nlist - begin);
    coarse.Score(centroids_.data() + size_t{begin} * params_.coarse_dims, params_.coarse_dims, n,
                 distances.data());
    for (size_t i = 0; i < n; ++i) probe.Push(distances[i], static_cast<RowId>(begin + i));
  }
  return probe.TakeSorted();
}

double IvfIndex::SelectionFlops(const Plan& resolved) const {
  return StoredRowFlops(metric_, *resolved.coarse_dims, params_.coarse_dims) * params_.nlist;
}

void IvfIndex::ForEachCandidateGroup(
    std::span<const float> query, const Plan& resolved,
    const std::function<bool(std::span<const RowId>)>& visit) const {
  for (const ScoredRow& probed : ProbeLists(query, resolved)) {
    if (!visit(lists_[probed.row].rows)) return;
  }
}

SearchResult IvfIndex::Search(const VectorTable& table, std::span<const float> query, uint32_t k,
                              const Plan& resolved) const {
  SearchResult result;
  result.plan = resolved;
  std::array<float, kScorerBlockRows> distances;

  const double coarse_flops = SelectionFlops(resolved);
  if (CommittedOverCap(resolved, coarse_flops + RerankFlops(resolved, metric_))) {
    return CappedOut(resolved);
  }
  // Stage 1: rank centroids on the (possibly sliced) coarse prefix.
  const std::vector<ScoredRow> probed_lists = ProbeLists(query, resolved);
  // Stage 2: scan the probed lists on the search prefix.
  // The lists hold raw table prefixes (cosine needs each row's norm); the centroids are unit.
  StageScorer scan(metric_, query, *resolved.search_dims);
  const size_t keep = resolved.has_rerank() ? *resolved.rerank_candidates : k;
  TopK best(keep);
  // fp16 lists are decoded a block at a time, then scored by the fp32 kernels.
  std::vector<float> decoded(
      list_precision_ == Precision::kFloat32 ? 0 : kScorerBlockRows * params_.search_dims);
  const size_t slot_bytes = params_.search_dims * value_bytes_;
  uint64_t scanned = 0;
  const uint64_t row_cap =
      ScanRowCap(resolved, coarse_flops + RerankFlops(resolved, metric_), scan.flops_per_row());
  for (const ScoredRow& probed : probed_lists) {
    const List& list = lists_[probed.row];
    // Under a cap the last list is scanned only as far as it allows (FAISS's max_codes, exact).
    const size_t members = std::min<uint64_t>(list.rows.size(), row_cap - scanned);
    result.cost.capped = members < list.rows.size();
    scanned += members;
    for (size_t begin = 0; begin < members; begin += kScorerBlockRows) {
      const size_t n = std::min(kScorerBlockRows, members - begin);
      const uint8_t* block = list.values.data() + begin * slot_bytes;
      const float* values = reinterpret_cast<const float*>(block);
      if (list_precision_ != Precision::kFloat32) {
        DecodeRows(list_precision_, block, slot_bytes, n, params_.search_dims, nullptr,
                   decoded.data());
        values = decoded.data();
      }
      scan.Score(values, params_.search_dims, n, distances.data());
      const float threshold = best.threshold();
      for (size_t i = 0; i < n; ++i) {
        if (TopK::Admits(distances[i], threshold)) best.Push(distances[i], list.rows[begin + i]);
      }
    }
    if (result.cost.capped) break;
  }
  std::vector<ScoredRow> top = best.TakeSorted();
  double flops = coarse_flops + double(scanned) * scan.flops_per_row();

  // Stage 3: exact re-rank from the full vectors.
  result.hits = FinishCandidates(table, metric_, query, k, resolved, std::move(top), flops);
  result.cost.mflops = flops / 1e6;
  result.cost.vectors_scanned = scanned;
  return result;
}

IvfStats IvfIndex::stats() const {
  IvfStats stats;
  stats.nlist = params_.nlist;
  stats.coarse_dims = params_.coarse_dims;
  stats.search_dims = params_.search_dims;
  stats.trained_vectors = trained_vectors_;
  stats.centroid_bytes = centroids_.size() * sizeof(float);
  for (const List& list : lists_) {
    stats.vectors += list.rows.size();
    stats.largest_list = std::max(stats.largest_list, list.rows.size());
    stats.list_vector_bytes += list.values.capacity();
    stats.list_id_bytes += list.rows.capacity() * sizeof(RowId);
  }
  return stats;
}

size_t IvfIndex::memory_bytes() const {
  const IvfStats s = stats();
  return s.centroid_bytes + s.list_vector_bytes + s.list_id_bytes +
         location_.capacity() * sizeof(Location);
}

std::vector<std::pair<std::string, double>> IvfIndex::described_params() const {
  return {{"nlist", params_.nlist},
          {"coarse_dims", params_.coarse_dims},
          {"search_dims", params_.search_dims},
          {"kmeans_iterations", params_.kmeans_iterations},
          {"training_sample", params_.training_sample},
          {"seed", static_cast<double>(params_.seed)}};
}

absl::StatusOr<std::string> IvfIndex::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  AppendIndexHeader(out, kFormatVersion, metric_, dim_);
  PutParams(out, params_);
  AppendPod(out, trained_vectors_);
  out.append(reinterpret_cast<const char*>(centroids_.data()), centroids_.size() * sizeof(float));
  SealBlob(out);
  return out;
}

absl::StatusOr<std::unique_ptr<IvfIndex>> IvfIndex::Deserialize(std::string_view bytes,
                                                                const VectorTable& table,
                                                                Metric metric) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("IVF blob rejected: ", why));
  };
  ASSIGN_OR_RETURN(const std::string_view body, OpenBlob(bytes, kMagic, "IVF"));
  BlobReader reader(body);
  const uint32_t dim = table.dim();
  RETURN_IF_ERROR(ReadIndexHeader(reader, kFormatVersion, metric, dim, "IVF"));
  uint64_t trained = 0;
  IvfBuildParams params;
  if (!GetParams(reader, &params) || !reader.Get(&trained)) {
    return corrupt("truncated header");
  }
  if (params.nlist == 0 || params.coarse_dims == 0 || params.coarse_dims > dim ||
      params.search_dims == 0 || params.search_dims > dim) {
    return corrupt("parameters do not match the collection");
  }
  std::vector<float> centroids;
  if (!reader.GetFloats(size_t{params.nlist} * params.coarse_dims, &centroids)) {
    return corrupt("truncated centroids");
  }
  if (!reader.done()) return corrupt("trailing bytes");
  std::unique_ptr<IvfIndex> index(
      new IvfIndex(metric, dim, params, std::move(centroids), table.precision()));
  index->trained_vectors_ = trained;
  for (RowId begin = 0; begin < table.row_count(); begin += kAssignChunkRows) {
    RETURN_IF_ERROR(index->AssignRange(
        table, begin,
        static_cast<RowId>(std::min<size_t>(table.row_count(), size_t{begin} + kAssignChunkRows))));
  }
  index->TrimLists();
  return index;
}

}  // namespace adanns::index
