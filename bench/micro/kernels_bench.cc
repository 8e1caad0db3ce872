// adanns-micro-kernels: the distance kernels of every ISA this CPU supports at prefix lengths
// 8..2048 (L2 and inner product over a block of rows, as the scans call them), and top-k
// selection. Counters: GB/s of row bytes read, and GFLOP/s counting multiply and add separately
// (2 FLOPs per element; the cost model's "1 multiply-add = 1 FLOP" is half of that).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "index/distance.h"
#include "index/topk.h"

namespace adanns::index {
namespace {

constexpr size_t kRows = 2048;

const std::vector<float>& RandomFloats(size_t n) {
  static std::vector<float> values;
  if (values.size() < n) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    values.resize(n);
    for (float& v : values) v = normal(rng);
  }
  return values;
}

// state.range(0) = prefix dims, range(1) = Isa, range(2) = 0 for L2, 1 for inner product.
void BM_Kernel(benchmark::State& state) {
  const auto dims = static_cast<size_t>(state.range(0));
  const auto isa = static_cast<Isa>(state.range(1));
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const DistanceKernels& kernels = KernelsFor(isa);
  // Rows stored at their own width, so the block streams through memory like a list scan.
  const std::vector<float>& rows = RandomFloats(kRows * dims + dims);
  const float* query = rows.data() + kRows * dims;
  std::vector<float> out(kRows);
  for (auto _ : state) {
    if (state.range(2) == 0) {
      kernels.l2_sqr(query, rows.data(), dims, kRows, dims, out.data());
    } else {
      kernels.dot(query, rows.data(), dims, kRows, dims, out.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double elements = double(state.iterations()) * kRows * dims;
  state.counters["GB/s"] = benchmark::Counter(elements * sizeof(float), benchmark::Counter::kIsRate,
                                              benchmark::Counter::OneK::kIs1000);
  state.counters["GFLOP/s"] = benchmark::Counter(2 * elements, benchmark::Counter::kIsRate,
                                                 benchmark::Counter::OneK::kIs1000);
  state.SetLabel(std::string(kernels.name) + (state.range(2) == 0 ? " l2" : " ip"));
}

void KernelArgs(benchmark::internal::Benchmark* bench) {
  for (int metric : {0, 1}) {
    for (int isa : {static_cast<int>(Isa::kScalar), static_cast<int>(Isa::kAvx2),
                    static_cast<int>(Isa::kAvx512)}) {
      for (int dims = 8; dims <= 2048; dims *= 2) bench->Args({dims, isa, metric});
    }
  }
}
BENCHMARK(BM_Kernel)->Apply(KernelArgs);

// Selecting the best k of 60000 distances, as a flat scan's shortlist does.
void BM_TopK(benchmark::State& state) {
  const auto k = static_cast<size_t>(state.range(0));
  const std::vector<float>& distances = RandomFloats(60000);
  for (auto _ : state) {
    TopK top(k);
    for (size_t i = 0; i < 60000; ++i) {
      if (distances[i] <= top.threshold()) top.Push(distances[i], static_cast<RowId>(i));
    }
    benchmark::DoNotOptimize(top.TakeSorted());
  }
  state.SetItemsProcessed(state.iterations() * 60000);
}
BENCHMARK(BM_TopK)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace adanns::index

BENCHMARK_MAIN();
