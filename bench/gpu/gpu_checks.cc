// GPU-vs-CPU agreement: the same rows in a VectorTable (CPU) and on the device (GPU; fp16 storage
// compared against a table of the fp16-rounded values, so only summation order differs).
#include "bench/gpu/gpu_checks.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "index/cpu_batch_scorer.h"
#include "index/cuda/gpu.h"
#include "index/cuda/gpu_kmeans.h"
#include "index/float16.h"
#include "index/kmeans.h"

namespace adanns::gpu_bench {
namespace {

using index::BatchTopK;
using index::CandidateLists;
using index::QueryBatch;
using index::RowId;

struct Case {
  size_t batch;
  uint32_t dims;
  uint32_t k;
};

CheckResult Failed(const std::string& name, const std::string& detail) {
  CheckResult result;
  result.name = name;
  result.detail = detail;
  return result;
}

// One storage/metric/data configuration: the CPU table and the GPU scorer over the same rows.
class Pair {
 public:
  Pair(const std::vector<float>& rows, uint32_t dim, Metric metric, index::gpu::Storage storage)
      : dim_(dim), metric_(metric), table_(dim), half_(storage == index::gpu::Storage::kFloat16) {
    index::gpu::ScorerOptions options;
    options.metric = metric;
    options.dim = dim;
    options.storage = storage;
    auto gpu = index::gpu::CreateScorer(options);
    if (!gpu.ok()) {
      error_ = gpu.status().ToString();
      return;
    }
    gpu_ = std::move(*gpu);
    Upsert(0, rows);
  }

  const std::string& error() const { return error_; }
  index::BatchScorer& gpu() { return *gpu_; }
  index::CpuBatchScorer cpu() const { return index::CpuBatchScorer(&table_, metric_); }
  size_t rows() const { return table_.row_count(); }

  // Stores rows for ids first_id.. on both sides (same ids -> same table rows on both).
  void Upsert(uint64_t first_id, const std::vector<float>& rows) {
    const size_t n = rows.size() / dim_;
    std::vector<float> kept(rows);
    if (half_) {
      for (float& x : kept) x = index::RoundToFloat16(x);
    }
    std::vector<RowId> row_ids(n);
    for (size_t i = 0; i < n; ++i) {
      row_ids[i] = table_.Upsert(first_id + i, {kept.data() + i * dim_, dim_});
    }
    if (absl::Status s = gpu_->SetRows(row_ids, kept.data(), dim_); !s.ok()) error_ = s.ToString();
  }

  // Deletes the ids on both sides; returns their rows.
  std::vector<RowId> Remove(const std::vector<uint64_t>& ids) {
    std::vector<RowId> rows;
    for (uint64_t id : ids) {
      if (auto row = table_.RowOf(id)) {
        rows.push_back(*row);
        table_.Remove(id);
      }
    }
    if (absl::Status s = gpu_->ClearRows(rows); !s.ok()) error_ = s.ToString();
    return rows;
  }

 private:
  uint32_t dim_;
  Metric metric_;
  index::VectorTable table_;
  bool half_;
  std::unique_ptr<index::BatchScorer> gpu_;
  std::string error_;
};

CheckResult CheckScan(Pair& pair, const std::string& name, const std::vector<float>& queries,
                      uint32_t dim, const Case& c) {
  const QueryBatch batch{queries.data(), c.batch, dim};
  auto cpu_scorer = pair.cpu();
  auto gpu = pair.gpu().Scan(batch, c.dims, c.k, pair.rows());
  auto cpu = cpu_scorer.Scan(batch, c.dims, c.k, pair.rows());
  if (!gpu.ok()) return Failed(name, gpu.status().ToString());
  if (!cpu.ok()) return Failed(name, cpu.status().ToString());
  return CompareTopK(name, *gpu, *cpu);
}

CheckResult CheckCandidates(Pair& pair, const std::string& name, const std::vector<float>& queries,
                            uint32_t dim, const Case& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  CandidateLists lists;
  for (size_t q = 0; q < c.batch; ++q) {
    std::set<RowId> chosen;
    while (chosen.size() < 500) chosen.insert(static_cast<RowId>(rng() % pair.rows()));
    std::vector<RowId> list(chosen.begin(), chosen.end());
    std::shuffle(list.begin(), list.end(), rng);
    lists.Add(list);
  }
  const QueryBatch batch{queries.data(), c.batch, dim};
  auto cpu_scorer = pair.cpu();
  auto gpu = pair.gpu().ScoreCandidates(batch, c.dims, lists, c.k);
  auto cpu = cpu_scorer.ScoreCandidates(batch, c.dims, lists, c.k);
  if (!gpu.ok()) return Failed(name, gpu.status().ToString());
  if (!cpu.ok()) return Failed(name, cpu.status().ToString());
  return CompareTopK(name, *gpu, *cpu);
}

std::vector<CheckResult> CheckKMeans(uint64_t seed) {
  constexpr size_t kPoints = 20000;
  constexpr uint32_t kDims = 64;
  const std::vector<float> points = SyntheticRows(kPoints, kDims, seed, true);
  index::KMeansOptions options;
  options.clusters = 128;
  options.iterations = 10;
  options.seed = seed;
  auto gpu = index::gpu::TrainKMeans(points.data(), kPoints, kDims, options);
  auto cpu = index::TrainKMeans(points.data(), kPoints, kDims, options);
  if (!gpu.ok()) return {Failed("kmeans", gpu.status().ToString())};
  if (!cpu.ok()) return {Failed("kmeans", cpu.status().ToString())};
  auto cpu_objective = index::gpu::KMeansObjective(points.data(), kPoints, kDims, *cpu);
  if (!cpu_objective.ok()) return {Failed("kmeans", cpu_objective.status().ToString())};
  CheckResult result;
  result.name = "kmeans 20000x64 -> 128, 10 iterations";
  const double ratio = gpu->objective / *cpu_objective;
  result.passed = ratio <= 1.01;
  result.detail = absl::StrCat("gpu objective ", gpu->objective, ", cpu (faiss) objective ",
                               *cpu_objective, ", ratio ", ratio);
  return {result};
}

}  // namespace

std::vector<float> SyntheticRows(size_t n, uint32_t dim, uint64_t seed, bool nested) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> rows(n * dim);
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < dim; ++j) {
      const float scale = nested ? 1.0f / std::sqrt(1.0f + j) : 1.0f;
      rows[i * dim + j] = normal(rng) * scale;
    }
  }
  return rows;
}

CheckResult CompareTopK(const std::string& name, const BatchTopK& gpu, const BatchTopK& cpu,
                        double tolerance, double min_recall) {
  CheckResult result;
  result.name = name;
  if (gpu.counts.size() != cpu.counts.size() || gpu.k != cpu.k) {
    result.detail = "result shapes differ";
    return result;
  }
  double recall_sum = 0;
  for (size_t q = 0; q < cpu.counts.size(); ++q) {
    if (gpu.counts[q] != cpu.counts[q]) {
      result.detail = absl::StrCat("query ", q, ": ", gpu.counts[q], " GPU hits vs ", cpu.counts[q],
                                   " CPU hits");
      return result;
    }
    const size_t base = q * cpu.k;
    std::set<RowId> cpu_rows(cpu.rows.begin() + base, cpu.rows.begin() + base + cpu.counts[q]);
    size_t shared = 0;
    for (uint32_t i = 0; i < cpu.counts[q]; ++i) {
      shared += cpu_rows.count(gpu.rows[base + i]);
      const double expected = cpu.distances[base + i];
      const double error =
          std::abs(gpu.distances[base + i] - expected) / std::max(1.0, std::abs(expected));
      result.max_distance_error = std::max(result.max_distance_error, error);
    }
    recall_sum += cpu.counts[q] ? double(shared) / cpu.counts[q] : 1.0;
  }
  result.id_recall = cpu.counts.empty() ? 1.0 : recall_sum / cpu.counts.size();
  result.passed = result.max_distance_error <= tolerance && result.id_recall >= min_recall;
  result.detail = absl::StrCat("id recall ", result.id_recall, ", max distance error ",
                               result.max_distance_error);
  return result;
}

std::vector<CheckResult> RunGpuChecks(uint64_t seed) {
  constexpr size_t kRows = 20000;
  constexpr uint32_t kDim = 256;
  const Case kScanCases[] = {
      {1, 256, 10}, {7, 100, 100}, {64, 32, 1000}, {300, 256, 10}, {64, 64, 1}};
  const Case kCandidateCase{64, 256, 50};
  std::vector<CheckResult> results;
  for (const bool nested : {false, true}) {
    const std::vector<float> rows = SyntheticRows(kRows, kDim, seed + nested, nested);
    const std::vector<float> queries = SyntheticRows(300, kDim, seed + 100 + nested, nested);
    for (const auto storage : {index::gpu::Storage::kFloat32, index::gpu::Storage::kFloat16}) {
      for (const Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
        const std::string config =
            absl::StrCat(nested ? "nested" : "random", " ",
                         storage == index::gpu::Storage::kFloat16 ? "fp16" : "fp32", " ",
                         std::string(MetricName(metric)));
        Pair pair(rows, kDim, metric, storage);
        if (!pair.error().empty()) {
          results.push_back(Failed(config, pair.error()));
          continue;
        }
        for (const Case& c : kScanCases) {
          results.push_back(CheckScan(
              pair, absl::StrCat(config, " scan batch ", c.batch, " dims ", c.dims, " k ", c.k),
              queries, kDim, c));
        }
        results.push_back(CheckCandidates(pair, absl::StrCat(config, " candidates"), queries, kDim,
                                          kCandidateCase, seed));
        // Row updates and deletes reach the device: 10% deleted, 5% overwritten.
        std::vector<uint64_t> deleted;
        for (uint64_t id = 0; id < kRows; id += 10) deleted.push_back(id);
        pair.Remove(deleted);
        pair.Upsert(5, SyntheticRows(kRows / 20, kDim, seed + 7, nested));
        results.push_back(CheckScan(pair, absl::StrCat(config, " scan after updates"), queries,
                                    kDim, {64, 256, 100}));
      }
    }
  }
  for (CheckResult& result : CheckKMeans(seed)) results.push_back(std::move(result));
  for (CheckResult& result : RunEdgeChecks(seed)) results.push_back(std::move(result));
  return results;
}

}  // namespace adanns::gpu_bench
