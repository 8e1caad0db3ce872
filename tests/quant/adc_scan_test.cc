// Every ISA's ADC kernel against a plain double-precision sum, contiguous and scattered codes.
#include "quant/adc_scan.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::quant {
namespace {

TEST(AdcScanTest, EveryKernelSumsTheTableEntriesOfEachCode) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> value(-2, 5);
  std::uniform_int_distribution<int> byte(0, 255);
  constexpr size_t kRows = 300;
  for (uint32_t m = kSubquantizerStep; m <= kMaxSubquantizers; m += kSubquantizerStep) {
    std::vector<float> table(size_t{m} * kCentroidsPerSubspace);
    for (float& t : table) t = value(rng);
    std::vector<uint8_t> codes(kRows * m);
    for (uint8_t& c : codes) c = static_cast<uint8_t>(byte(rng));
    std::vector<uint32_t> rows = {7, 0, 299, 150, 7, 42, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12};
    for (index::Isa isa : index::SupportedIsas()) {
      const AdcKernel& kernel = AdcKernelFor(isa);
      std::vector<float> all(kRows), scattered(rows.size());
      kernel.scan(table.data(), m, codes.data(), nullptr, kRows, all.data());
      kernel.scan(table.data(), m, codes.data(), rows.data(), rows.size(), scattered.data());
      auto expected = [&](size_t row) {
        double sum = 0;
        for (uint32_t j = 0; j < m; ++j) {
          sum += table[j * kCentroidsPerSubspace + codes[row * m + j]];
        }
        return sum;
      };
      for (size_t r = 0; r < kRows; ++r) {
        ASSERT_NEAR(all[r], expected(r), 1e-4 * m) << kernel.name << " m=" << m << " row " << r;
      }
      for (size_t i = 0; i < rows.size(); ++i) {
        ASSERT_NEAR(scattered[i], expected(rows[i]), 1e-4 * m) << kernel.name << " m=" << m;
      }
    }
  }
}

}  // namespace
}  // namespace adanns::quant
