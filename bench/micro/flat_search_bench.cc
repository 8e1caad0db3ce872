// adanns-micro-flat: single-thread exact search, one query at a time, k = 10: index::FlatSearch at
// several prefixes (and the MRL funnel) against FAISS IndexFlatL2 on the same vectors.
//
// Data: the prepared folder named by ADANNS_BENCH_DATA (`adanns-bench prepare ...`), else a
// seeded random 60000 x 784 set so the benchmark always runs. Queries cycle through the set.
// Debian's FAISS (1.7.3) is a generic x86-64 build, while index/ dispatches to AVX2 / AVX-512 at
// run time: compare the ratio, on this machine, in one run.
#include <benchmark/benchmark.h>
#include <faiss/IndexFlat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/datasets/prepared_dataset.h"
#include "bench/threads.h"
#include "index/flat_search.h"
#include "index/plan.h"
#include "index/vector_table.h"

namespace adanns::bench {
namespace {

constexpr uint32_t kK = 10;
constexpr uint64_t kRandomRows = 60000;
constexpr uint64_t kRandomQueries = 1000;
constexpr uint32_t kRandomDim = 784;

struct Fixture {
  std::string source;
  FloatMatrix queries;
  std::unique_ptr<index::VectorTable> table;
  std::unique_ptr<faiss::IndexFlatL2> faiss_index;
};

// Fixture built once in main(); the benchmarks only read it.
Fixture* fixture = nullptr;

// Gaussian rows whose per-dimension scale decays, like a PCA-rotated or MRL embedding.
FloatMatrix RandomRows(uint64_t rows, uint32_t dim, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  FloatMatrix out = ZeroMatrix<float>(rows, dim);
  for (uint64_t i = 0; i < rows; ++i) {
    for (uint32_t j = 0; j < dim; ++j) {
      out.values[i * dim + j] = normal(rng) / std::sqrt(1.0f + static_cast<float>(j));
    }
  }
  return out;
}

absl::StatusOr<Fixture> LoadFixture() {
  PreparedDataset data;
  Fixture out;
  if (const char* dir = std::getenv("ADANNS_BENCH_DATA"); dir != nullptr && *dir != '\0') {
    absl::StatusOr<PreparedDataset> loaded = ReadPreparedDataset(dir, /*with_groundtruth=*/false);
    if (!loaded.ok()) return loaded.status();
    data = *std::move(loaded);
    out.source = dir;
  } else {
    data.base = RandomRows(kRandomRows, kRandomDim, /*seed=*/1);
    data.queries = RandomRows(kRandomQueries, kRandomDim, /*seed=*/2);
    out.source = "random 60000x784 (seeded; set ADANNS_BENCH_DATA for a prepared folder)";
  }
  const auto dim = static_cast<uint32_t>(data.base.cols);
  out.table = std::make_unique<index::VectorTable>(dim);
  for (uint64_t i = 0; i < data.base.rows; ++i) {
    out.table->Upsert(i, std::span<const float>(data.base.row(i), dim));
  }
  try {
    out.faiss_index = std::make_unique<faiss::IndexFlatL2>(dim);
    out.faiss_index->add(static_cast<faiss::Index::idx_t>(data.base.rows), data.base.values.data());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("FAISS IndexFlatL2 build failed: ") + e.what());
  }
  out.queries = std::move(data.queries);
  return out;
}

std::span<const float> Query(uint64_t i) {
  const FloatMatrix& queries = fixture->queries;
  return {queries.row(i % queries.rows), queries.cols};
}

// Args: search_dims, rerank_candidates (0 = no re-rank; otherwise re-rank at full dims).
void BM_AdannsFlat(benchmark::State& state) {
  const uint32_t dim = fixture->table->dim();
  index::Plan requested;
  requested.index = "flat";
  requested.search_dims = static_cast<uint32_t>(state.range(0));
  if (state.range(1) > 0) {
    requested.rerank_dims = dim;
    requested.rerank_candidates = static_cast<uint32_t>(state.range(1));
  }
  absl::StatusOr<index::Plan> plan = index::ResolveFlatPlan(requested, dim, kK);
  if (!plan.ok()) {
    state.SkipWithError(plan.status().ToString().c_str());
    return;
  }
  uint64_t i = 0;
  double mflops = 0;
  for (auto _ : state) {
    index::SearchResult result =
        index::FlatSearch(*fixture->table, Metric::kL2, Query(i++), kK, *plan);
    mflops = result.cost.mflops;
    benchmark::DoNotOptimize(result.hits.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["mflops_per_query"] = mflops;
}
BENCHMARK(BM_AdannsFlat)
    ->ArgNames({"search_dims", "rerank"})
    ->Args({784, 0})
    ->Args({128, 0})
    ->Args({64, 0})
    ->Args({64, 100})  // funnel: shortlist 100 at 64 dims, exact re-rank at 784
    ->Unit(benchmark::kMicrosecond);

void BM_FaissIndexFlatL2(benchmark::State& state) {
  const faiss::IndexFlatL2& index = *fixture->faiss_index;
  std::vector<float> distances(kK);
  std::vector<faiss::Index::idx_t> labels(kK);
  uint64_t i = 0;
  for (auto _ : state) {
    index.search(1, Query(i++).data(), kK, distances.data(), labels.data());
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["mflops_per_query"] = static_cast<double>(index.ntotal) * index.d / 1e6;
}
BENCHMARK(BM_FaissIndexFlatL2)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace adanns::bench

int main(int argc, char** argv) {
  // One thread for OpenMP and OpenBLAS alike: queries go one at a time, as ann-benchmarks does.
  adanns::bench::SetComputeThreads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  absl::StatusOr<adanns::bench::Fixture> fixture = adanns::bench::LoadFixture();
  if (!fixture.ok()) {
    std::fprintf(stderr, "adanns-micro-flat: %s\n", fixture.status().ToString().c_str());
    return 1;
  }
  adanns::bench::fixture = &*fixture;
  benchmark::AddCustomContext("data", fixture->source);
  benchmark::AddCustomContext("faiss", "Debian libfaiss-dev 1.7.3, generic x86-64 build");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
