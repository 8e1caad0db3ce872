// The GPU scorer's edge cases, each a bug a read-through found before any hardware ran it: ties
// broken by row as the CPU does, NaN distances ranked last, fp16's range refused, a row written
// twice in one update, two scorers with different shared-memory needs at once, more than 65535
// query groups, and the memory budget. Checked against the CPU scorer or a stated expectation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/gpu/gpu_checks.h"
#include "index/cpu_batch_scorer.h"
#include "index/cuda/gpu.h"

namespace adanns::gpu_bench {
namespace {

using index::BatchScorer;
using index::BatchTopK;
using index::QueryBatch;
using index::RowId;
using index::VectorTable;

CheckResult Result(const std::string& name, bool passed, const std::string& detail) {
  CheckResult result;
  result.name = name;
  result.passed = passed;
  result.detail = detail;
  return result;
}

absl::StatusOr<std::unique_ptr<BatchScorer>> Scorer(Metric metric, uint32_t dim,
                                                    index::gpu::Storage storage,
                                                    uint64_t budget_bytes = 0) {
  index::gpu::ScorerOptions options;
  options.metric = metric;
  options.dim = dim;
  options.storage = storage;
  options.memory_budget_bytes = budget_bytes;
  return index::gpu::CreateScorer(options);
}

// The same rows (ids 0..n-1) in a table and on a new device scorer.
struct Mirrored {
  VectorTable table;
  std::unique_ptr<BatchScorer> gpu;
  std::string error;

  Mirrored(const std::vector<float>& rows, uint32_t dim, Metric metric) : table(dim) {
    auto scorer = Scorer(metric, dim, index::gpu::Storage::kFloat32);
    if (!scorer.ok()) {
      error = scorer.status().ToString();
      return;
    }
    gpu = std::move(*scorer);
    std::vector<RowId> row_ids;
    for (size_t i = 0; i < rows.size() / dim; ++i) {
      row_ids.push_back(table.Upsert(i, {rows.data() + i * dim, dim}));
    }
    if (absl::Status s = gpu->SetRows(row_ids, rows.data(), dim); !s.ok()) error = s.ToString();
  }
};

// Rows identical rank by rank. With `tolerance` > 0 (relative to the distance) two rows may
// trade places where the CPU's distances at neighbouring ranks are that close: the devices sum in
// different orders, so rounding decides between near-equal distances. Every rank's distance must
// agree within the tolerance. Exact ties are no excuse: they are broken by row on both devices.
CheckResult SameRanking(const std::string& name, const absl::StatusOr<BatchTopK>& gpu,
                        const absl::StatusOr<BatchTopK>& cpu, const std::vector<size_t>& queries,
                        float tolerance = 0.0f) {
  if (!gpu.ok()) return Result(name, false, gpu.status().ToString());
  if (!cpu.ok()) return Result(name, false, cpu.status().ToString());
  auto close = [tolerance](float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return a == b || std::abs(a - b) <= tolerance * std::max(1.0f, std::abs(b));
  };
  size_t swaps = 0;
  for (size_t q : queries) {
    if (gpu->counts[q] != cpu->counts[q]) {
      return Result(
          name, false,
          absl::StrCat("query ", q, ": ", gpu->counts[q], " vs ", cpu->counts[q], " hits"));
    }
    const size_t base = q * cpu->k;
    const uint32_t count = cpu->counts[q];
    for (uint32_t i = 0; i < count; ++i) {
      const float expected = cpu->distances[base + i];
      if (tolerance > 0 && !close(gpu->distances[base + i], expected)) {
        return Result(name, false,
                      absl::StrCat("query ", q, " rank ", i, ": distance ",
                                   gpu->distances[base + i], " vs CPU ", expected));
      }
      if (gpu->rows[base + i] == cpu->rows[base + i]) continue;
      // The run of CPU ranks around i whose neighbouring distances are that close: the GPU's row
      // must be one of that run's rows, and appear once in its list.
      uint32_t first = i;
      uint32_t last = i;
      while (first > 0 && close(cpu->distances[base + first - 1], cpu->distances[base + first])) {
        --first;
      }
      while (last + 1 < count &&
             close(cpu->distances[base + last + 1], cpu->distances[base + last])) {
        ++last;
      }
      const auto in = [&](const std::vector<RowId>& rows, uint32_t from, uint32_t to) {
        return std::count(rows.begin() + base + from, rows.begin() + base + to + 1,
                          gpu->rows[base + i]);
      };
      const bool near_tie = tolerance > 0 && first < last && in(cpu->rows, first, last) == 1 &&
                            in(gpu->rows, 0, count - 1) == 1;
      if (!near_tie) {
        return Result(
            name, false,
            absl::StrCat("query ", q, " rank ", i, ": row ", gpu->rows[base + i], " vs CPU row ",
                         cpu->rows[base + i], " (distance ", expected, ")"));
      }
      ++swaps;
    }
  }
  return Result(name, true,
                absl::StrCat(queries.size(), " queries, identical rows",
                             swaps ? absl::StrCat(" but ", swaps, " near-tie swaps") : ""));
}

// 2000 rows made of 50 distinct vectors repeated: every rank past the first is a tie.
CheckResult CheckTies(uint64_t seed) {
  constexpr uint32_t kDim = 64;
  const std::vector<float> distinct = SyntheticRows(50, kDim, seed, false);
  std::vector<float> rows;
  for (int copy = 0; copy < 40; ++copy) rows.insert(rows.end(), distinct.begin(), distinct.end());
  Mirrored pair(rows, kDim, Metric::kL2);
  if (!pair.error.empty()) return Result("ties by row", false, pair.error);
  const std::vector<float> queries = SyntheticRows(16, kDim, seed + 1, false);
  const QueryBatch batch{queries.data(), 16, kDim};
  index::CpuBatchScorer cpu(&pair.table, Metric::kL2);
  std::vector<size_t> all(16);
  for (size_t q = 0; q < 16; ++q) all[q] = q;
  return SameRanking("ties by row (scan k 100 over 40 copies)",
                     pair.gpu->Scan(batch, kDim, 100, pair.table.row_count()),
                     cpu.Scan(batch, kDim, 100, pair.table.row_count()), all);
}

// Rows holding a NaN (canonical, and sign-flipped: its key would rank first) have NaN distances;
// both rank after every number, by row, on the GPU as on the CPU. (An overflowed inner product is
// no way to make one: the GPU's fused multiply-add sums 10 * 3e38 + 10 * -3e38 exactly, the CPU
// gets inf - inf.)
CheckResult CheckNanRanksLast(uint64_t seed) {
  constexpr uint32_t kDim = 4;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> rows = SyntheticRows(100, kDim, seed, false);
  rows[7 * kDim + 1] = -nan;
  rows[42 * kDim + 2] = nan;
  Mirrored pair(rows, kDim, Metric::kInnerProduct);
  const std::string name = "NaN distances rank last, by row";
  if (!pair.error.empty()) return Result(name, false, pair.error);
  const std::vector<float> query = {10.0f, 10.0f, 1.0f, 1.0f};
  const QueryBatch batch{query.data(), 1, kDim};
  auto top = pair.gpu->Scan(batch, kDim, 128, pair.table.row_count());
  if (!top.ok()) return Result(name, false, top.status().ToString());
  const uint32_t count = top->counts[0];
  const bool all_rows = count == 100;
  const bool nan_last = all_rows && top->rows[98] == 7 && top->rows[99] == 42 &&
                        std::isnan(top->distances[98]) && std::isnan(top->distances[99]);
  bool rest_finite = true;
  for (uint32_t i = 0; i + 2 < count; ++i) rest_finite &= std::isfinite(top->distances[i]);
  index::CpuBatchScorer cpu(&pair.table, Metric::kInnerProduct);
  const CheckResult same =
      SameRanking(name, top, cpu.Scan(batch, kDim, 128, pair.table.row_count()), {0}, 1e-5f);
  return Result(name, all_rows && nan_last && rest_finite && same.passed,
                absl::StrCat(count, " hits, last rows ", count > 1 ? top->rows[count - 2] : 0, ", ",
                             count ? top->rows[count - 1] : 0, "; vs CPU: ", same.detail));
}

CheckResult CheckFloat16Range() {
  const std::string name = "fp16 storage refuses |x| > 65504";
  auto scorer = Scorer(Metric::kL2, 8, index::gpu::Storage::kFloat16);
  if (!scorer.ok()) return Result(name, false, scorer.status().ToString());
  std::vector<float> row(8, 1.0f);
  row[3] = 70000.0f;
  const std::vector<RowId> ids = {0};
  const absl::Status status = (*scorer)->SetRows(ids, row.data(), 8);
  return Result(name, status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
}

CheckResult CheckRepeatedRowInOneUpdate(uint64_t seed) {
  constexpr uint32_t kDim = 256;
  const std::string name = "a row named three times in one SetRows keeps the last";
  auto scorer = Scorer(Metric::kL2, kDim, index::gpu::Storage::kFloat32);
  if (!scorer.ok()) return Result(name, false, scorer.status().ToString());
  const std::vector<float> values = SyntheticRows(3, kDim, seed, false);
  const std::vector<RowId> ids = {3, 3, 3};
  if (absl::Status s = (*scorer)->SetRows(ids, values.data(), kDim); !s.ok()) {
    return Result(name, false, s.ToString());
  }
  auto top = (*scorer)->Scan({values.data() + 2 * kDim, 1, kDim}, kDim, 1, 4);
  if (!top.ok()) return Result(name, false, top.status().ToString());
  const bool passed = top->counts[0] == 1 && top->rows[0] == 3 && top->distances[0] == 0.0f;
  return Result(name, passed, absl::StrCat("distance to the last value ", top->distances[0]));
}

// Two scorers whose launches need very different shared memory, searching from two threads.
CheckResult CheckConcurrentScorers(uint64_t seed) {
  const std::string name = "two scorers (dims 8 k 10, dims 1024 k 2000) concurrently";
  const std::vector<float> small_rows = SyntheticRows(5000, 8, seed, false);
  const std::vector<float> large_rows = SyntheticRows(5000, 1024, seed + 1, false);
  Mirrored small(small_rows, 8, Metric::kL2);
  Mirrored large(large_rows, 1024, Metric::kL2);
  if (!small.error.empty()) return Result(name, false, small.error);
  if (!large.error.empty()) return Result(name, false, large.error);
  if (large.gpu->max_k() < 2000) return Result(name, false, "max_k below 2000 at 1024 dims");
  std::vector<std::string> errors(2);
  auto run = [&](Mirrored& pair, uint32_t dim, uint32_t k, std::string& error) {
    const std::vector<float> queries = SyntheticRows(32, dim, seed + dim, false);
    index::CpuBatchScorer cpu(&pair.table, Metric::kL2);
    auto expected = cpu.Scan({queries.data(), 32, dim}, dim, k, pair.table.row_count());
    for (int round = 0; round < 50 && error.empty(); ++round) {
      auto got = pair.gpu->Scan({queries.data(), 32, dim}, dim, k, pair.table.row_count());
      const CheckResult same = SameRanking(name, got, expected, {0, 15, 31}, 1e-5f);
      if (!same.passed) error = absl::StrCat("round ", round, ": ", same.detail);
    }
  };
  std::thread first(run, std::ref(small), 8u, 10u, std::ref(errors[0]));
  std::thread second(run, std::ref(large), 1024u, 2000u, std::ref(errors[1]));
  first.join();
  second.join();
  const bool passed = errors[0].empty() && errors[1].empty();
  return Result(name, passed, passed ? "50 rounds each" : errors[0] + " | " + errors[1]);
}

// 600,000 queries: more than 65535 groups of 8, beyond one launch's gridDim.y.
CheckResult CheckManyQueryGroups(uint64_t seed) {
  constexpr uint32_t kDim = 16;
  constexpr size_t kQueries = 600'000;
  const std::vector<float> rows = SyntheticRows(2048, kDim, seed, false);
  Mirrored pair(rows, kDim, Metric::kL2);
  const std::string name = "600000 queries in one scan (> 65535 query groups)";
  if (!pair.error.empty()) return Result(name, false, pair.error);
  const std::vector<float> queries = SyntheticRows(kQueries, kDim, seed + 1, false);
  auto gpu = pair.gpu->Scan({queries.data(), kQueries, kDim}, kDim, 10, pair.table.row_count());
  index::CpuBatchScorer cpu(&pair.table, Metric::kL2);
  std::vector<size_t> sampled;
  std::vector<float> sample_queries;
  for (size_t q = 0; q < kQueries; q += 9973) {
    sampled.push_back(sampled.size());
    sample_queries.insert(sample_queries.end(), queries.begin() + q * kDim,
                          queries.begin() + (q + 1) * kDim);
  }
  auto expected =
      cpu.Scan({sample_queries.data(), sampled.size(), kDim}, kDim, 10, pair.table.row_count());
  if (!gpu.ok()) return Result(name, false, gpu.status().ToString());
  // Gather the sampled queries' GPU results into a batch shaped like the CPU's.
  BatchTopK gathered;
  gathered.Reset(sampled.size(), 10);
  for (size_t i = 0; i < sampled.size(); ++i) {
    const size_t q = i * 9973;
    gathered.counts[i] = gpu->counts[q];
    std::copy_n(gpu->rows.begin() + q * 10, 10, gathered.rows.begin() + i * 10);
    std::copy_n(gpu->distances.begin() + q * 10, 10, gathered.distances.begin() + i * 10);
  }
  return SameRanking(name, gathered, expected, sampled, 1e-5f);
}

CheckResult CheckMemoryBudget() {
  constexpr uint32_t kDim = 128;  // 512 bytes a row, plus its live flag
  constexpr uint64_t kBudget = 1000 * (512 + 1);
  const std::string name = "memory budget: 1000 rows fit a 1000-row budget, 1001 do not";
  auto scorer = Scorer(Metric::kL2, kDim, index::gpu::Storage::kFloat32, kBudget);
  if (!scorer.ok()) return Result(name, false, scorer.status().ToString());
  const std::vector<float> values = SyntheticRows(1001, kDim, 5, false);
  std::vector<RowId> ids(1000);
  for (RowId i = 0; i < 1000; ++i) ids[i] = i;
  const absl::Status fits = (*scorer)->SetRows(ids, values.data(), kDim);
  const std::vector<RowId> one_more = {1000};
  const absl::Status over = (*scorer)->SetRows(one_more, values.data() + 1000 * kDim, kDim);
  const uint64_t bytes = index::gpu::ScorerMemoryBytes(**scorer);
  const bool passed =
      fits.ok() && over.code() == absl::StatusCode::kResourceExhausted && bytes >= 1000 * 513;
  return Result(name, passed,
                absl::StrCat("fits: ", fits.ToString(), "; over: ", over.ToString(),
                             "; scorer bytes ", bytes));
}

}  // namespace

std::vector<CheckResult> RunEdgeChecks(uint64_t seed) {
  return {CheckTies(seed),
          CheckNanRanksLast(seed),
          CheckFloat16Range(),
          CheckRepeatedRowInOneUpdate(seed),
          CheckConcurrentScorers(seed),
          CheckManyQueryGroups(seed),
          CheckMemoryBudget()};
}

}  // namespace adanns::gpu_bench
