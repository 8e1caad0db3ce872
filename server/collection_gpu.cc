// The collection's GPU mirror: its rows resident in device memory (kept in step with every write
// under the exclusive table hold), and flat plans run for a whole batch in one GPU call.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/cpu_batch_scorer.h"
#include "index/flat_search.h"
#include "index/float16.h"
#include "index/host_mirror_scorer.h"
#include "server/collection.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// Longest prefix kept on the device: the kernels hold each query in shared memory.
constexpr uint32_t kMaxResidentDims = 8192;
constexpr size_t kUploadRows = 16384;
// The emulated device's k limit: small, so tests reach the "too many candidates" route.
constexpr uint32_t kEmulatedMaxK = 2048;

// Hits of one query from a batch result.
std::vector<index::Hit> HitsOf(const index::BatchTopK& top, size_t q,
                               const index::VectorTable& table, Metric metric) {
  std::vector<index::Hit> hits;
  hits.reserve(top.counts[q]);
  for (uint32_t i = 0; i < top.counts[q]; ++i) {
    const float distance = top.distances[q * top.k + i];
    hits.push_back(
        {table.IdOf(top.rows[q * top.k + i]), metric == Metric::kL2 ? distance : -distance});
  }
  return hits;
}

}  // namespace

absl::StatusOr<std::unique_ptr<index::BatchScorer>> Collection::MakeGpuScorer() const {
  index::gpu::ScorerOptions scorer_options;
  scorer_options.metric = meta_.metric;
  // The mirror takes the table's rows as they are: a tiered table's resident prefix only.
  scorer_options.dim = table_.resident_dims();
  scorer_options.resident_dims = std::min(table_.resident_dims(), kMaxResidentDims);
  scorer_options.storage = options_.gpu.storage;
  scorer_options.memory_budget_bytes = options_.gpu.memory_budget_bytes;
  if (options_.gpu.make_scorer) return options_.gpu.make_scorer(scorer_options);
  if (options_.gpu.emulate) {
    return std::make_unique<index::HostMirrorScorer>(
        meta_.metric, scorer_options.resident_dims, kEmulatedMaxK,
        options_.gpu.storage == index::gpu::Storage::kFloat16);
  }
  return index::gpu::CreateScorer(scorer_options);
}

void Collection::AttachGpuLocked() {
  if (!options_.gpu.enabled && !options_.gpu.emulate) return;
  absl::StatusOr<std::unique_ptr<index::BatchScorer>> scorer = MakeGpuScorer();
  if (!scorer.ok()) {
    spdlog::warn("collection '{}' stays on the CPU: {}", meta_.name, scorer.status().ToString());
    return;
  }
  gpu_ = std::move(*scorer);
  std::vector<index::RowId> rows;
  auto flush = [&] {
    MirrorRowsLocked(rows);
    rows.clear();
  };
  for (index::RowId row = 0; row < table_.row_count() && gpu_; ++row) {
    if (!table_.IsLive(row)) continue;
    rows.push_back(row);
    if (rows.size() == kUploadRows) flush();
  }
  if (gpu_) flush();
  if (gpu_) {
    spdlog::info("collection '{}': {} rows resident on {} ({} dims)", meta_.name, table_.size(),
                 gpu_->device_name(), gpu_->resident_dims());
  }
}

void Collection::ReportGpuDropped(const absl::Status& why) const {
  // Over the memory budget is configuration, not a device fault.
  const auto level =
      why.code() == absl::StatusCode::kResourceExhausted ? spdlog::level::warn : spdlog::level::err;
  spdlog::log(level, "collection '{}' leaves the GPU, searches go on on the CPU: {}", meta_.name,
              why.ToString());
  if (options_.on_gpu_error) options_.on_gpu_error(metrics_label(), "dropped");
}

void Collection::DropGpuLocked(const absl::Status& why) {
  ReportGpuDropped(why);
  gpu_.reset();
}

bool Collection::GpuUsableLocked() {
  if (gpu_ && gpu_failed_) gpu_.reset();  // dropped by a failed search: free it now
  return gpu_ != nullptr;
}

void Collection::MirrorRowsLocked(std::span<const index::RowId> rows) {
  if (!GpuUsableLocked() || rows.empty()) return;
  const uint32_t width = table_.resident_dims();
  std::vector<float> values(rows.size() * width);
  for (size_t i = 0; i < rows.size(); ++i) {
    float* out = values.data() + i * width;
    const float* prefix = table_.RowPrefix(rows[i], width, out);
    if (prefix != out) std::copy_n(prefix, width, out);
  }
  if (absl::Status status = gpu_->SetRows(rows, values.data(), width); !status.ok()) {
    DropGpuLocked(status);
  }
}

void Collection::MirrorClearLocked(std::span<const index::RowId> rows) {
  if (!GpuUsableLocked() || rows.empty()) return;
  if (absl::Status status = gpu_->ClearRows(rows); !status.ok()) DropGpuLocked(status);
}

absl::Status Collection::FallBackFromGpu(const absl::Status& gpu_error, SearchDevice device) const {
  if (gpu_error.code() == absl::StatusCode::kResourceExhausted) {
    spdlog::warn("collection '{}': a search runs on the CPU: {}", meta_.name, gpu_error.ToString());
    if (options_.on_gpu_error) options_.on_gpu_error(metrics_label(), "cpu_fallback");
  } else if (!gpu_failed_.exchange(true)) {
    ReportGpuDropped(gpu_error);
  }
  if (device != SearchDevice::kGpu) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("device GPU: the GPU call failed (",
                                             gpu_error.message(),
                                             "); retry with device AUTO or CPU"));
}

absl::StatusOr<bool> Collection::UseGpuLocked(SearchDevice device, const index::Plan& plan,
                                              uint32_t k) const {
  if (device == SearchDevice::kCpu) return false;
  std::string why_not;
  if (!gpu_ || gpu_failed_) {
    why_not = options_.gpu.enabled || options_.gpu.emulate
                  ? "this collection's rows are not resident on the GPU (see the log)"
                  : "this server has no GPU";
  } else if (plan.index != "flat") {
    why_not = absl::StrCat("the plan's index '", plan.index,
                           "' runs on the CPU; the GPU serves flat plans");
  } else if (*plan.search_dims > gpu_->resident_dims() ||
             plan.rerank_candidates.value_or(k) > gpu_->max_k()) {
    why_not = absl::StrCat("the GPU keeps ", gpu_->resident_dims(), " dims and at most ",
                           gpu_->max_k(), " candidates per query");
  }
  if (why_not.empty()) return true;
  if (device == SearchDevice::kGpu) return absl::FailedPreconditionError("device GPU: " + why_not);
  return false;
}

absl::Status Collection::SearchOnGpuLocked(const index::Plan& plan, std::span<const float> queries,
                                           uint32_t query_dims, size_t num_queries, uint32_t k,
                                           SearchOutcome& outcome) const {
  const auto start = std::chrono::steady_clock::now();
  // FlatSearch's charge and cap: the scan covers the rows that fit.
  const index::FlatScan scan = index::PlanFlatScan(plan, meta_.metric, table_.row_count());
  if (scan.capped_out) {
    outcome.results.assign(num_queries, index::CappedOut(plan));
    return absl::OkStatus();
  }
  const size_t rows = scan.rows;
  const index::QueryBatch batch{queries.data(), num_queries, query_dims};
  const uint32_t first_keep = plan.has_rerank() ? *plan.rerank_candidates : k;
  ASSIGN_OR_RETURN(index::BatchTopK top, gpu_->Scan(batch, *plan.search_dims, first_keep, rows));
  const std::vector<uint32_t> candidates = top.counts;  // what each query's re-rank scores
  if (plan.has_rerank()) {
    index::CandidateLists lists;
    for (size_t q = 0; q < num_queries; ++q) {
      lists.Add({top.rows.data() + q * top.k, top.counts[q]});
    }
    // The mirror holds a quantised table's decoded values: its re-ranks read storage on the CPU.
    if (*plan.rerank_dims <= gpu_->resident_dims() &&
        !table_.RerankReadsStorage(*plan.rerank_dims)) {
      ASSIGN_OR_RETURN(top, gpu_->ScoreCandidates(batch, *plan.rerank_dims, lists, k));
    } else {
      index::CpuBatchScorer cpu(&table_, meta_.metric);
      ASSIGN_OR_RETURN(top, cpu.ScoreCandidates(batch, *plan.rerank_dims, lists, k));
    }
  }
  outcome.results.resize(num_queries);
  for (size_t q = 0; q < num_queries; ++q) {
    outcome.results[q].plan = plan;
    outcome.results[q].cost = index::FlatCost(plan, meta_.metric, rows, candidates[q]);
    outcome.results[q].cost.capped = scan.capped;
    // A re-rank above the table's resident prefix (or on a quantised table) read each candidate
    // from storage.
    if (plan.has_rerank() && table_.RerankReadsStorage(*plan.rerank_dims)) {
      outcome.results[q].cost.vectors_fetched = candidates[q];
    }
    outcome.results[q].hits = HitsOf(top, q, table_, meta_.metric);
  }
  outcome.device = gpu_->device_name();
  outcome.gpu_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  outcome.gpu_memory_bytes = index::gpu::ScorerMemoryBytes(*gpu_);
  return absl::OkStatus();
}

}  // namespace adanns::server
