// adanns-micro-adc: the ADC kernels of every ISA this CPU supports, M = 8..64 code bytes, over a
// contiguous block of codes (the "opq" scan) and over scattered rows (an IVF list's members in
// "ivf_opq"). Counter: codes scored per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "quant/adc_scan.h"

namespace adanns::quant {
namespace {

constexpr size_t kCodes = 60000;  // Fashion-MNIST's base size
constexpr size_t kBlock = 256;    // rows per kernel call, as the index scans them

// state.range(0) = M, range(1) = Isa, range(2) = 0 contiguous / 1 scattered rows.
void BM_Adc(benchmark::State& state) {
  const auto m = static_cast<uint32_t>(state.range(0));
  const auto isa = static_cast<index::Isa>(state.range(1));
  if (!index::IsaSupported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const AdcKernel& kernel = AdcKernelFor(isa);
  std::mt19937 rng(7);
  std::vector<float> table(size_t{m} * kCentroidsPerSubspace);
  std::normal_distribution<float> normal;
  for (float& t : table) t = normal(rng);
  std::vector<uint8_t> codes(kCodes * m);
  for (uint8_t& c : codes) c = static_cast<uint8_t>(rng());
  std::vector<uint32_t> rows(kCodes);
  for (size_t i = 0; i < kCodes; ++i) rows[i] = static_cast<uint32_t>(i);
  std::shuffle(rows.begin(), rows.end(), rng);
  const bool scattered = state.range(2) == 1;
  std::vector<float> out(kBlock);
  for (auto _ : state) {
    for (size_t begin = 0; begin < kCodes; begin += kBlock) {
      const size_t n = std::min(kBlock, kCodes - begin);
      if (scattered) {
        kernel.scan(table.data(), m, codes.data(), rows.data() + begin, n, out.data());
      } else {
        kernel.scan(table.data(), m, codes.data() + begin * m, nullptr, n, out.data());
      }
      benchmark::DoNotOptimize(out.data());
    }
    benchmark::ClobberMemory();
  }
  state.counters["codes/s"] =
      benchmark::Counter(double(state.iterations()) * kCodes, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(kernel.name) + (scattered ? " scattered" : " contiguous"));
}

void AdcArgs(benchmark::internal::Benchmark* bench) {
  for (int scattered : {0, 1}) {
    for (int m : {8, 16, 32, 64}) {
      for (index::Isa isa : {index::Isa::kScalar, index::Isa::kAvx2, index::Isa::kAvx512}) {
        bench->Args({m, static_cast<int>(isa), scattered});
      }
    }
  }
}

BENCHMARK(BM_Adc)->Apply(AdcArgs)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace adanns::quant

BENCHMARK_MAIN();
