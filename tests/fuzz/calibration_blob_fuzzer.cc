// libFuzzer target: index::DeserializeCalibration on arbitrary bytes (and with the checksum
// fixed); a frontier that loads must then plan target-recall and MFLOPs budgets without harm.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "index/budget_planner.h"
#include "index/calibration.h"
#include "tests/fuzz/fuzz_world.h"

namespace adanns::fuzz {
namespace {

void PlanWith(const index::Calibration& calibration) {
  const FuzzWorld& world = World();
  const std::span<const float> query(world.table.RowData(1), kDim);
  for (const uint32_t k : {1u, 5u, 10u, 50u}) {
    for (int variant = 0; variant < 4; ++variant) {
      index::Budget budget;
      if (variant == 0) budget.target_recall = 0.5f;
      if (variant == 1) budget.target_recall = 1.0f;
      if (variant == 2) budget.max_mflops = 0.01;
      if (variant == 3) budget.max_mflops = 1.0;
      const auto choice = index::PlanSearch(budget, world.shape(), k, world.ready, &calibration);
      if (!choice.ok() || choice->plan.QueryDimsNeeded() > kDim) continue;
      const index::SearchResult result =
          index::RunPlan(choice->plan, world.table, kMetric, query, k, world.ready);
      FUZZ_CHECK(result.hits.size() <= k);
    }
  }
}

}  // namespace
}  // namespace adanns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace adanns;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const std::string& bytes : {std::string(input), fuzz::Resealed(input)}) {
    const absl::StatusOr<index::Calibration> loaded = index::DeserializeCalibration(bytes);
    if (!loaded.ok()) continue;
    fuzz::PlanWith(*loaded);
    FUZZ_CHECK(index::DeserializeCalibration(index::SerializeCalibration(*loaded)).ok());
  }
  return 0;
}
