// VectorTable keeps ids, rows and free rows consistent through upserts, replacements, deletes.
#include "index/vector_table.h"

#include <vector>

#include "gtest/gtest.h"

namespace adanns::index {
namespace {

TEST(VectorTableTest, UpsertReplaceRemoveReuse) {
  VectorTable table(3);
  const std::vector<float> a = {1, 2, 3}, b = {4, 5, 6}, c = {7, 8, 9};
  const RowId row0 = table.Upsert(0, a);
  const RowId row_max = table.Upsert(UINT64_MAX, b);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_NE(row0, row_max);
  EXPECT_EQ(table.IdOf(row_max), UINT64_MAX);

  EXPECT_EQ(table.Upsert(0, c), row0);  // replacement keeps the row
  EXPECT_EQ(table.RowData(row0)[2], 9.0f);
  EXPECT_EQ(table.size(), 2u);

  EXPECT_TRUE(table.Remove(0));
  EXPECT_FALSE(table.Remove(0));
  EXPECT_FALSE(table.RowOf(0).has_value());
  EXPECT_FALSE(table.IsLive(row0));
  EXPECT_EQ(table.size(), 1u);

  const RowId reused = table.Upsert(42, a);  // a freed row is reused before appending
  EXPECT_EQ(reused, row0);
  EXPECT_EQ(table.row_count(), 2u);
  EXPECT_TRUE(table.IsLive(reused));
  EXPECT_EQ(*table.RowOf(42), reused);
}

}  // namespace
}  // namespace adanns::index
