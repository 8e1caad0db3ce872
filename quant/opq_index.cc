// AdANNS-OPQ served index: build (sample, train, encode in chunks), ADC scans, re-rank, blobs.
#include "quant/opq_index.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "base/blob_io.h"
#include "base/status_macros.h"
#include "index/flat_search.h"
#include "index/prefix.h"
#include "index/stage_scorer.h"
#include "index/work_counter.h"
#include "quant/adc_scan.h"

namespace adanns::quant {
namespace {

using index::RowId;
using index::ScoredRow;

constexpr char kMagic[8] = {'A', 'D', 'N', 'S', 'O', 'P', 'Q', '1'};
constexpr char kParamsMagic[8] = {'A', 'D', 'N', 'S', 'O', 'P', 'Q', 'P'};
constexpr uint32_t kFormatVersion = 1;
// Rows encoded per shared hold of the table during a build.
constexpr RowId kEncodeChunkRows = 2048;
// Default training sample: 100 vectors per centroid of an 8-bit sub-quantizer.
constexpr uint32_t kDefaultTrainingSample = 100 * kCentroidsPerSubspace;
constexpr double kTrainShare = 0.7;  // of the build's progress

void PutParams(std::string& out, const OpqBuildParams& params) {
  AppendPod(out, params.spec.prefix_dims);
  AppendPod(out, params.spec.m);
  AppendPod(out, params.training_sample);
  AppendPod(out, params.opq_iterations);
  AppendPod(out, params.seed);
}

bool GetParams(BlobReader& reader, OpqBuildParams* params) {
  return reader.Get(&params->spec.prefix_dims) && reader.Get(&params->spec.m) &&
         reader.Get(&params->training_sample) && reader.Get(&params->opq_iterations) &&
         reader.Get(&params->seed);
}

uint32_t PrefixCrc(std::span<const float> prefix) {
  return Crc32(std::string_view(reinterpret_cast<const char*>(prefix.data()), prefix.size_bytes()));
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

std::string EncodeOpqBuildParams(const OpqBuildParams& params) {
  std::string out(kParamsMagic, sizeof(kParamsMagic));
  PutParams(out, params);
  return out;
}

absl::StatusOr<OpqBuildParams> DecodeOpqBuildParams(std::string_view bytes) {
  OpqBuildParams params;
  if (bytes.size() < sizeof(kParamsMagic) ||
      std::memcmp(bytes.data(), kParamsMagic, sizeof(kParamsMagic)) != 0) {
    return absl::DataLossError("not an encoding of OPQ build parameters");
  }
  BlobReader reader(bytes.substr(sizeof(kParamsMagic)));
  if (!GetParams(reader, &params) || !reader.done()) {
    return absl::DataLossError("OPQ build parameters truncated or too long");
  }
  return params;
}

// One query against the codebook: its rotated prefix's ADC table, and the best candidates.
class OpqIndex::Query {
 public:
  // Scores at most `row_cap` codes in all.
  Query(const OpqIndex& index, std::span<const float> query, size_t keep, uint64_t row_cap)
      : index_(index),
        table_(size_t{index.params_.spec.m} * kCentroidsPerSubspace),
        best_(keep),
        row_cap_(row_cap) {
    const uint32_t dims = index.params_.spec.prefix_dims;
    std::vector<float> prefix(dims), rotated(dims);
    CopyPrefix(query.data(), dims, index.metric_, prefix.data());
    index.codebook_.Rotate(prefix.data(), 1, rotated.data());
    index.codebook_.BuildTable(rotated.data(), index.metric_ != Metric::kL2, table_.data());
  }

  // Scores `n` rows' codes (rows[i], or first + i when rows is null); `live` filters them.
  // Returns false once the row cap stopped it.
  template <typename Live>
  bool Scan(const RowId* rows, RowId first, size_t n, Live live) {
    if (n > row_cap_ - scanned_) {
      n = row_cap_ - scanned_;
      capped_ = true;
    }
    const uint32_t m = index_.params_.spec.m;
    const uint8_t* codes =
        rows != nullptr ? index_.codes_.data() : index_.codes_.data() + size_t{first} * m;
    for (size_t begin = 0; begin < n; begin += index::kScorerBlockRows) {
      const size_t count = std::min(index::kScorerBlockRows, n - begin);
      const RowId* block_rows = rows != nullptr ? rows + begin : nullptr;
      kernel_.scan(table_.data(), m, block_rows == nullptr ? codes + begin * m : codes, block_rows,
                   count, distances_.data());
      index::CountMultiplyAdds(count * m);
      const float threshold = best_.threshold();
      for (size_t i = 0; i < count; ++i) {
        const RowId row = block_rows != nullptr ? block_rows[i] : first + begin + i;
        if (index::TopK::Admits(distances_[i], threshold) && live(row)) best_.Push(distances_[i], row);
      }
    }
    scanned_ += n;
    return !capped_;
  }

  uint64_t scanned() const { return scanned_; }
  bool capped() const { return capped_; }
  std::vector<ScoredRow> TakeBest() { return best_.TakeSorted(); }

 private:
  const OpqIndex& index_;
  const AdcKernel& kernel_ = BestAdcKernel();
  std::vector<float> table_;
  index::TopK best_;
  std::array<float, index::kScorerBlockRows> distances_;
  uint64_t row_cap_;
  uint64_t scanned_ = 0;
  bool capped_ = false;
};

OpqIndex::OpqIndex(Metric metric, uint32_t dim, OpqBuildParams params, OpqCodebook codebook)
    : metric_(metric),
      dim_(dim),
      params_(params),
      name_(CodebookName(params.spec)),
      codebook_(std::move(codebook)) {}

void OpqIndex::PreparePrefix(const float* vector, float* out) const {
  CopyPrefix(vector, params_.spec.prefix_dims, metric_, out);
}

void OpqIndex::Reserve(size_t rows) {
  if (ids_.size() >= rows) return;
  codes_.resize(rows * params_.spec.m);
  ids_.resize(rows);
  prefix_crcs_.resize(rows);
  coded_.resize(rows);
}

void OpqIndex::Stamp(RowId row, uint64_t id, uint32_t prefix_crc) {
  ids_[row] = id;
  prefix_crcs_[row] = prefix_crc;
  coded_[row] = 1;
}

absl::Status OpqIndex::EncodeRange(const index::VectorTable& table, RowId begin, RowId end,
                                   const index::HeldOutRows& held_out) {
  const uint32_t dims = params_.spec.prefix_dims, m = params_.spec.m;
  Reserve(end);
  std::vector<RowId> rows;
  for (RowId row = begin; row < end; ++row) {
    if (held_out.Keeps(table, row)) rows.push_back(row);
  }
  std::vector<float> values(rows.size() * dims);
  std::vector<uint8_t> found;
  RETURN_IF_ERROR(table.ReadPrefixes(rows, dims, values.data(), found));
  std::vector<float> prefixes(rows.size() * dims);
  size_t kept = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!found[i]) continue;
    rows[kept] = rows[i];
    PreparePrefix(values.data() + i * dims, prefixes.data() + kept * dims);
    ++kept;
  }
  rows.resize(kept);
  std::vector<uint8_t> codes(rows.size() * m);
  codebook_.Encode(prefixes.data(), rows.size(), codes.data());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(codes_.data() + size_t{rows[i]} * m, codes.data() + i * m, m);
    Stamp(rows[i], table.IdOf(rows[i]),
          PrefixCrc(std::span<const float>(prefixes.data() + i * dims, dims)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<OpqIndex>> OpqIndex::Build(const index::TableAccess& access,
                                                          Metric metric,
                                                          const OpqBuildParams& requested,
                                                          const index::Progress& progress,
                                                          const std::atomic<bool>* cancel,
                                                          const index::HeldOutRows& held_out) {
  auto cancelled = [cancel] { return cancel != nullptr && cancel->load(); };
  auto report = [&progress](double fraction) {
    if (progress) progress(fraction);
  };
  const auto start = std::chrono::steady_clock::now();
  OpqBuildParams params = requested;
  const uint32_t dims = params.spec.prefix_dims;

  // Sample the training rows in one short hold, then copy their prefixes kEncodeChunkRows rows per
  // hold: from the table, or read from storage for a codebook above the resident prefix (a row
  // deleted or taken by another id in between is left out).
  uint32_t dim = 0;
  uint64_t vectors = 0;
  std::vector<RowId> sample;
  std::vector<uint64_t> sample_ids;
  absl::Status checked;
  access([&](const index::VectorTable& table) {
    dim = table.dim();
    vectors = table.size();
    checked = ValidateCodebookSpec(params.spec, dim);
    if (!checked.ok()) return;
    std::vector<RowId> live;
    live.reserve(table.size());
    for (size_t r = 0; r < table.row_count(); ++r) {
      if (held_out.Keeps(table, static_cast<RowId>(r))) live.push_back(static_cast<RowId>(r));
    }
    if (params.training_sample == 0) {
      params.training_sample =
          static_cast<uint32_t>(std::min<size_t>(live.size(), kDefaultTrainingSample));
    }
    const size_t n = std::min<size_t>(params.training_sample, live.size());
    std::mt19937_64 rng(params.seed);
    for (size_t i = 0; i < n; ++i) {  // partial Fisher-Yates
      std::swap(live[i], live[i + rng() % (live.size() - i)]);
    }
    sample.assign(live.begin(), live.begin() + static_cast<ptrdiff_t>(n));
    for (const RowId row : sample) sample_ids.push_back(table.IdOf(row));
  });
  RETURN_IF_ERROR(checked);
  std::vector<float> train(sample.size() * dims);
  size_t kept = 0;
  for (size_t begin = 0; begin < sample.size(); begin += kEncodeChunkRows) {
    if (cancelled()) return absl::CancelledError("OPQ build cancelled");
    const size_t end = std::min<size_t>(sample.size(), begin + kEncodeChunkRows);
    access([&](const index::VectorTable& table) {
      std::vector<RowId> rows;
      for (size_t i = begin; i < end; ++i) {
        if (table.IsLive(sample[i]) && table.IdOf(sample[i]) == sample_ids[i]) {
          rows.push_back(sample[i]);
        }
      }
      std::vector<float> values(rows.size() * dims);
      std::vector<uint8_t> found;
      checked = table.ReadPrefixes(rows, dims, values.data(), found);
      if (!checked.ok()) return;
      for (size_t j = 0; j < rows.size(); ++j) {
        if (!found[j]) continue;
        CopyPrefix(values.data() + j * dims, dims, metric, train.data() + kept * dims);
        ++kept;
      }
    });
    RETURN_IF_ERROR(checked);
  }
  train.resize(kept * dims);
  RETURN_IF_ERROR(checked);
  if (cancelled()) return absl::CancelledError("OPQ build cancelled");

  OpqTraining training;
  training.opq_iterations = params.opq_iterations;
  training.seed = params.seed;
  ASSIGN_OR_RETURN(OpqCodebook codebook, OpqCodebook::Train(params.spec, train, training));
  train.clear();
  train.shrink_to_fit();
  std::unique_ptr<OpqIndex> index(new OpqIndex(metric, dim, params, std::move(codebook)));
  index->trained_vectors_ = vectors;
  index->train_seconds_ = Seconds(start);
  report(kTrainShare);

  const auto encode_start = std::chrono::steady_clock::now();
  for (RowId begin = 0;; begin += kEncodeChunkRows) {
    if (cancelled()) return absl::CancelledError("OPQ build cancelled");
    size_t rows = 0;
    access([&](const index::VectorTable& table) {
      rows = table.row_count();
      if (begin >= rows) return;
      checked = index->EncodeRange(
          table, begin,
          static_cast<RowId>(std::min<size_t>(rows, size_t{begin} + kEncodeChunkRows)), held_out);
    });
    RETURN_IF_ERROR(checked);
    if (size_t{begin} + kEncodeChunkRows >= rows) break;
    report(kTrainShare + (1 - kTrainShare) * double(begin) / double(rows));
  }
  index->encode_seconds_ = Seconds(encode_start);
  report(1.0);
  return index;
}

absl::StatusOr<std::unique_ptr<OpqIndex>> OpqIndex::Build(const index::VectorTable& table,
                                                          Metric metric,
                                                          const OpqBuildParams& params) {
  return Build([&table](const auto& read) { read(table); }, metric, params);
}

void OpqIndex::Upsert(const index::VectorTable& table, RowId row) {
  // Only a codebook above the resident prefix reads storage here; should that read fail, the row
  // keeps no code (ADC plans skip it; exact and other index plans still find it) until it is
  // written again or the codebook rebuilt.
  EncodeRange(table, row, row + 1).IgnoreError();
}

namespace {
struct PreparedCode final : index::PreparedUpsert {
  std::vector<uint8_t> code;
  uint32_t prefix_crc = 0;
};
}  // namespace

std::unique_ptr<index::PreparedUpsert> OpqIndex::PrepareUpsert(uint64_t /*id*/,
                                                               std::span<const float> vector) {
  if (vector.size() < params_.spec.prefix_dims) return nullptr;  // Apply reads the row itself
  std::vector<float> prefix(params_.spec.prefix_dims);
  PreparePrefix(vector.data(), prefix.data());
  auto prepared = std::make_unique<PreparedCode>();
  prepared->code.resize(params_.spec.m);
  codebook_.Encode(prefix.data(), 1, prepared->code.data());
  prepared->prefix_crc = PrefixCrc(prefix);
  return prepared;
}

void OpqIndex::ApplyUpsert(const index::VectorTable& table, RowId row,
                           std::unique_ptr<index::PreparedUpsert> prepared) {
  if (prepared == nullptr) return Upsert(table, row);
  // Should the row have changed since Prepare, this code is stale; the change queued another
  // insert of the row, which encodes it again.
  const auto& code = static_cast<const PreparedCode&>(*prepared);
  Reserve(size_t{row} + 1);
  std::memcpy(codes_.data() + size_t{row} * params_.spec.m, code.code.data(), params_.spec.m);
  Stamp(row, table.IdOf(row), code.prefix_crc);
}

void OpqIndex::Remove(RowId row, uint64_t /*id*/) {
  if (row < coded_.size()) coded_[row] = 0;
}

absl::StatusOr<index::Plan> OpqIndex::ResolveRerank(index::Plan plan, uint32_t k) const {
  if (k == 0 || k > index::kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in 1..", index::kMaxK, ", got ", k));
  }
  if (!plan.codebook.empty() && plan.codebook != name_) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan.codebook '", plan.codebook, "' is not this codebook (", name_, ")"));
  }
  plan.codebook = name_;
  const uint32_t dims = params_.spec.prefix_dims;
  if (plan.search_dims.value_or(dims) != dims) {
    return absl::InvalidArgumentError(absl::StrCat("plan.search_dims is fixed by the codebook (",
                                                   dims, " for ", name_, "), got ",
                                                   *plan.search_dims));
  }
  plan.search_dims = dims;
  if (plan.ef.has_value()) {
    return absl::InvalidArgumentError("plan.ef applies to graph plans only");
  }
  if (plan.rerank_candidates == 0u) {  // the re-rank turned off
    if (plan.rerank_dims.has_value()) {
      return absl::InvalidArgumentError(
          "plan.rerank_dims needs rerank_candidates > 0 (0 turns the re-rank off)");
    }
    plan.rerank_candidates.reset();
    return plan;
  }
  plan.rerank_dims = plan.rerank_dims.value_or(dim_);
  plan.rerank_candidates = plan.rerank_candidates.value_or(std::max(20 * k, 200u));
  index::Plan funnel;  // the re-rank bounds are the flat funnel's
  funnel.search_dims = std::min(dims, *plan.rerank_dims);
  funnel.rerank_dims = plan.rerank_dims;
  funnel.rerank_candidates = plan.rerank_candidates;
  RETURN_IF_ERROR(index::ResolveFlatPlan(funnel, dim_, k).status());
  return plan;
}

absl::StatusOr<index::Plan> OpqIndex::ResolvePlan(const index::Plan& requested, uint32_t k) const {
  if (requested.coarse_dims.has_value() || requested.nprobe.has_value()) {
    return absl::InvalidArgumentError(
        "plan.coarse_dims and plan.nprobe apply to \"ivf\" and \"ivf_opq\" plans, not \"opq\"");
  }
  index::Plan plan = requested;
  plan.index = "opq";
  return ResolveRerank(std::move(plan), k);
}

absl::StatusOr<index::Plan> OpqIndex::ResolvePlan(const index::Plan& requested, uint32_t k,
                                                  const index::CandidateSource& source) const {
  index::Plan plan = requested;
  plan.index = "ivf_opq";
  RETURN_IF_ERROR(source.ResolveCandidates(plan));
  return ResolveRerank(std::move(plan), k);
}

double OpqIndex::SetupFlops() const {
  const double dims = params_.spec.prefix_dims;
  return dims * dims + kCentroidsPerSubspace * dims;
}

index::SearchResult OpqIndex::Search(const index::VectorTable& table, std::span<const float> query,
                                     uint32_t k, const index::Plan& resolved) const {
  const double committed = SetupFlops() + index::RerankFlops(resolved, metric_);
  if (index::CommittedOverCap(resolved, committed)) return index::CappedOut(resolved);
  Query scan(*this, query, resolved.has_rerank() ? *resolved.rerank_candidates : k,
             index::ScanRowCap(resolved, committed, params_.spec.m));
  const auto rows = static_cast<RowId>(std::min(coded_.size(), table.row_count()));
  scan.Scan(nullptr, 0, rows, [this](RowId row) { return coded_[row] != 0; });
  return Finish(table, query, k, resolved, scan, SetupFlops());
}

index::SearchResult OpqIndex::Search(const index::VectorTable& table, std::span<const float> query,
                                     uint32_t k, const index::Plan& resolved,
                                     const index::CandidateSource& source) const {
  const double fixed = source.SelectionFlops(resolved) + SetupFlops();
  const double committed = fixed + index::RerankFlops(resolved, metric_);
  if (index::CommittedOverCap(resolved, committed)) return index::CappedOut(resolved);
  Query scan(*this, query, resolved.has_rerank() ? *resolved.rerank_candidates : k,
             index::ScanRowCap(resolved, committed, params_.spec.m));
  // The source's groups hold live rows only, each encoded by Upsert before it reached the source.
  source.ForEachCandidateGroup(query, resolved, [&](std::span<const RowId> rows) {
    return scan.Scan(rows.data(), 0, rows.size(), [](RowId) { return true; });
  });
  return Finish(table, query, k, resolved, scan, fixed);
}

index::SearchResult OpqIndex::Finish(const index::VectorTable& table, std::span<const float> query,
                                     uint32_t k, const index::Plan& resolved, Query& scan,
                                     double fixed_flops) const {
  index::SearchResult result;
  result.plan = resolved;
  double flops = fixed_flops + double(scan.scanned()) * params_.spec.m;
  // ADC distances negate similarities like the scorers' do.
  result.hits = index::FinishCandidates(table, metric_, query, k, resolved, scan.TakeBest(), flops);
  result.cost.mflops = flops / 1e6;
  result.cost.vectors_scanned = scan.scanned();
  result.cost.capped = scan.capped();
  return result;
}

OpqStats OpqIndex::stats() const {
  OpqStats stats;
  stats.coded_vectors = static_cast<uint64_t>(std::count(coded_.begin(), coded_.end(), 1));
  stats.code_bytes = codes_.capacity();
  stats.bookkeeping_bytes = BookkeepingBytes();
  stats.codebook_bytes = codebook_.memory_bytes();
  stats.train_seconds = train_seconds_;
  stats.encode_seconds = encode_seconds_;
  return stats;
}

size_t OpqIndex::BookkeepingBytes() const {
  return ids_.capacity() * sizeof(uint64_t) + prefix_crcs_.capacity() * sizeof(uint32_t) +
         coded_.capacity();
}

size_t OpqIndex::memory_bytes() const {
  return codes_.capacity() + codebook_.memory_bytes() + BookkeepingBytes();
}

std::vector<std::pair<std::string, double>> OpqIndex::described_params() const {
  // Memory by component: the codes the scans read, the per-row bookkeeping the blob needs (id,
  // prefix checksum, live flag) and the codebook itself.
  constexpr double kBookkeeping = sizeof(uint64_t) + sizeof(uint32_t) + sizeof(uint8_t);
  return {{"prefix_dims", params_.spec.prefix_dims},
          {"m", params_.spec.m},
          {"code_bytes_per_vector", params_.spec.m},
          {"bookkeeping_bytes_per_vector", kBookkeeping},
          {"codebook_bytes", static_cast<double>(codebook_.memory_bytes())},
          {"training_sample", params_.training_sample},
          {"opq_iterations", params_.opq_iterations},
          {"seed", static_cast<double>(params_.seed)}};
}

absl::StatusOr<std::string> OpqIndex::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  AppendIndexHeader(out, kFormatVersion, metric_, dim_);
  PutParams(out, params_);
  AppendPod(out, trained_vectors_);
  codebook_.AppendTo(out);
  // Codes by id, with the checksum of the prefix each encodes: rows are renumbered on every load
  // and a vector may have changed after this blob, so a load keeps a code only for the same bytes.
  const uint32_t m = params_.spec.m;
  std::vector<RowId> coded;
  for (size_t r = 0; r < ids_.size(); ++r) {
    if (coded_[r]) coded.push_back(static_cast<RowId>(r));
  }
  AppendPod(out, static_cast<uint64_t>(coded.size()));
  for (const RowId row : coded) {
    AppendPod(out, ids_[row]);
    AppendPod(out, prefix_crcs_[row]);
    out.append(reinterpret_cast<const char*>(codes_.data() + size_t{row} * m), m);
  }
  SealBlob(out);
  return out;
}

absl::StatusOr<std::unique_ptr<OpqIndex>> OpqIndex::Deserialize(std::string_view bytes,
                                                                const index::VectorTable& table,
                                                                Metric metric) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("OPQ blob rejected: ", why));
  };
  ASSIGN_OR_RETURN(const std::string_view body, OpenBlob(bytes, kMagic, "OPQ"));
  BlobReader reader(body);
  const uint32_t dim = table.dim();
  RETURN_IF_ERROR(ReadIndexHeader(reader, kFormatVersion, metric, dim, "OPQ"));
  OpqBuildParams params;
  uint64_t trained = 0;
  if (!GetParams(reader, &params) || !reader.Get(&trained)) return corrupt("truncated header");
  if (!ValidateCodebookSpec(params.spec, dim).ok()) {
    return corrupt("codebook does not fit the collection");
  }
  ASSIGN_OR_RETURN(OpqCodebook codebook, OpqCodebook::Read(reader));
  if (codebook.spec().prefix_dims != params.spec.prefix_dims ||
      codebook.spec().m != params.spec.m) {
    return corrupt("codebook and parameters disagree");
  }
  const uint32_t m = params.spec.m;
  uint64_t count = 0;
  if (!reader.Get(&count)) return corrupt("truncated code count");
  // Checked before the map is sized by it: a corrupt count must not allocate.
  if (count > reader.remaining() / (sizeof(uint64_t) + sizeof(uint32_t) + m)) {
    return corrupt("code count exceeds the blob");
  }
  struct Stored {
    uint32_t prefix_crc;
    std::string_view code;
  };
  absl::flat_hash_map<uint64_t, Stored> stored;
  stored.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t id = 0;
    Stored entry{};
    if (!reader.Get(&id) || !reader.Get(&entry.prefix_crc) || !reader.GetBytes(m, &entry.code)) {
      return corrupt("truncated codes");
    }
    stored[id] = entry;
  }
  if (!reader.done()) return corrupt("trailing bytes");

  std::unique_ptr<OpqIndex> index(new OpqIndex(metric, dim, params, std::move(codebook)));
  index->trained_vectors_ = trained;
  index->Reserve(table.row_count());
  // Codes are kept where the row's prefix still has the checksum it was encoded from; the others
  // were written after the blob and are encoded now. Above the resident prefix this reads every
  // row from storage once (in batches): the start-up cost of such a codebook.
  const uint32_t dims = params.spec.prefix_dims;
  std::vector<float> values(size_t{kEncodeChunkRows} * dims);
  std::vector<float> prefix(dims);
  std::vector<uint8_t> found;
  std::vector<RowId> rows;
  for (size_t begin = 0; begin < table.row_count(); begin += kEncodeChunkRows) {
    rows.clear();
    for (size_t r = begin; r < std::min(table.row_count(), begin + kEncodeChunkRows); ++r) {
      if (table.IsLive(static_cast<RowId>(r))) rows.push_back(static_cast<RowId>(r));
    }
    RETURN_IF_ERROR(table.ReadPrefixes(rows, dims, values.data(), found));
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!found[i]) continue;
      const RowId row = rows[i];
      index->PreparePrefix(values.data() + i * dims, prefix.data());
      const uint32_t crc = PrefixCrc(prefix);
      const auto it = stored.find(table.IdOf(row));
      if (it != stored.end() && it->second.prefix_crc == crc) {
        std::memcpy(index->codes_.data() + size_t{row} * m, it->second.code.data(), m);
        index->Stamp(row, table.IdOf(row), crc);
      } else {  // written after the blob: encode it now
        RETURN_IF_ERROR(index->EncodeRange(table, row, row + 1));
      }
    }
  }
  return index;
}

}  // namespace adanns::quant
