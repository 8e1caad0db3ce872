// The device row table's host-side bookkeeping: growth stays within the memory budget (the
// budget used to be checked against the 1.5x-grown size, so a collection left the GPU at about
// 67% of it), and one update writes each row once, its last value.
#include "index/cuda/resident_rows.h"

#include <vector>

#include "gtest/gtest.h"

namespace adanns::index::cuda {
namespace {

TEST(GrownRowCapacityTest, GrowsByHalfWithoutABudget) {
  EXPECT_EQ(*GrownRowCapacity(10, 0, 100, 0), 1024u);
  EXPECT_EQ(*GrownRowCapacity(1025, 1024, 100, 0), 1024u + 512u + 1024u);
  EXPECT_EQ(*GrownRowCapacity(500000, 1024, 100, 0), 500000u);
  EXPECT_EQ(*GrownRowCapacity(1000, 2000, 100, 0), 2000u);  // already fits
}

TEST(GrownRowCapacityTest, FillsTheBudgetBeforeRefusing) {
  constexpr size_t kRowBytes = 1000;
  constexpr uint64_t kBudget = 100 * kRowBytes;  // 100 rows
  // 90 rows: the 1.5x growth would pass the budget, so the capacity stops at it.
  EXPECT_EQ(*GrownRowCapacity(90, 80, kRowBytes, kBudget), 100u);
  // Every row up to the budget fits...
  EXPECT_EQ(*GrownRowCapacity(100, 90, kRowBytes, kBudget), 100u);
  // ...and one more is refused, naming the budget.
  const auto over = GrownRowCapacity(101, 100, kRowBytes, kBudget);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("100000"), std::string::npos) << over.status();
}

TEST(LastWriteOfEachRowTest, KeepsTheLastWriteOfEveryRowInOrder) {
  const std::vector<RowId> rows = {5, 7, 5, 9, 7, 7, 1};
  EXPECT_EQ(LastWriteOfEachRow(rows), (std::vector<size_t>{2, 3, 5, 6}));
  const std::vector<RowId> distinct = {3, 1, 2};
  EXPECT_EQ(LastWriteOfEachRow(distinct), (std::vector<size_t>{0, 1, 2}));
  EXPECT_TRUE(LastWriteOfEachRow({}).empty());
}

}  // namespace
}  // namespace adanns::index::cuda
