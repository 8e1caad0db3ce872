// VectorTable keeps ids, rows and free rows consistent through upserts, replacements, deletes;
// a tiered table keeps only the resident prefix and reads full rows from its stored rows.
#include "index/vector_table.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "index/flat_search.h"
#include "index/stage_scorer.h"

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

// Full vectors kept beside the table, as the server's RocksDB keeps them: reads count their rows.
class MapStoredRows : public StoredRows {
 public:
  explicit MapStoredRows(uint32_t dim) : dim_(dim) {}
  void Put(uint64_t id, std::vector<float> values) { rows_[id] = std::move(values); }
  void Erase(uint64_t id) { rows_.erase(id); }
  absl::Status Read(std::span<const uint64_t> ids, float* out,
                    std::vector<uint8_t>& found) const override {
    ++reads;
    if (fail) return absl::UnavailableError("disk gone");
    found.assign(ids.size(), 0);
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto it = rows_.find(ids[i]);
      if (it == rows_.end()) continue;
      std::copy(it->second.begin(), it->second.end(), out + i * dim_);
      found[i] = 1;
    }
    return absl::OkStatus();
  }
  mutable int reads = 0;
  bool fail = false;

 private:
  uint32_t dim_;
  absl::flat_hash_map<uint64_t, std::vector<float>> rows_;
};

std::vector<float> Row(uint64_t id, uint32_t dim) {
  std::vector<float> values(dim);
  for (uint32_t j = 0; j < dim; ++j) values[j] = float((id * 7 + j * 3) % 11) - 5.0f + 0.01f * id;
  return values;
}

TEST(VectorTableTest, TieredTableKeepsThePrefixAndReadsFullRowsInOneBatch) {
  constexpr uint32_t kDim = 6, kResident = 2;
  VectorTable table(kDim, kResident);
  MapStoredRows stored(kDim);
  table.set_stored_rows(&stored);
  EXPECT_TRUE(table.tiered());
  EXPECT_EQ(table.resident_dims(), kResident);
  for (uint64_t id = 0; id < 5; ++id) {
    stored.Put(id, Row(id, kDim));
    table.Upsert(id, Row(id, kDim));
  }
  EXPECT_EQ(table.memory_bytes(), 5 * kResident * sizeof(float));
  EXPECT_EQ(table.RowData(*table.RowOf(3))[1], Row(3, kDim)[1]);

  ASSERT_TRUE(table.Remove(1));
  stored.Erase(2);  // deleted in storage, not yet in the table
  const std::vector<RowId> rows = {*table.RowOf(4), 1, *table.RowOf(2), *table.RowOf(0),
                                   *table.RowOf(4)};
  std::vector<float> out(rows.size() * kDim, -1.0f);
  std::vector<uint8_t> found;
  const uint64_t fetched_before = tls_fetch_ledger.rows;
  ASSERT_TRUE(table.ReadFullRows(rows, out.data(), found).ok());
  EXPECT_EQ(stored.reads, 1);
  EXPECT_EQ(tls_fetch_ledger.rows - fetched_before, 4u);  // the freed row is not asked for
  EXPECT_EQ(found, (std::vector<uint8_t>{1, 0, 0, 1, 1}));
  for (const size_t i : {0, 3, 4}) {
    const std::vector<float> expected = Row(table.IdOf(rows[i]), kDim);
    EXPECT_EQ(std::vector<float>(out.begin() + i * kDim, out.begin() + (i + 1) * kDim), expected)
        << i;
  }

  stored.fail = true;
  EXPECT_EQ(table.ReadFullRows(rows, out.data(), found).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(tls_fetch_ledger.error.code(), absl::StatusCode::kUnavailable);
  tls_fetch_ledger.error = absl::OkStatus();
}

TEST(VectorTableTest, TieredFlatPlansScanThePrefixAndRerankExactlyFromStorage) {
  constexpr uint32_t kDim = 16, kResident = 4, kRows = 300, kK = 5;
  VectorTable whole(kDim);
  VectorTable tiered(kDim, kResident);
  MapStoredRows stored(kDim);
  tiered.set_stored_rows(&stored);
  for (uint64_t id = 0; id < kRows; ++id) {
    whole.Upsert(id, Row(id, kDim));
    tiered.Upsert(id, Row(id, kDim));
    stored.Put(id, Row(id, kDim));
  }
  const std::vector<float> query = Row(1000, kDim);
  // The default flat plan of a tiered table is the funnel from its resident prefix.
  const absl::StatusOr<Plan> funnel = ResolveFlatPlan({}, kDim, kK, kResident);
  ASSERT_TRUE(funnel.ok()) << funnel.status();
  EXPECT_EQ(*funnel->search_dims, kResident);
  EXPECT_EQ(*funnel->rerank_dims, kDim);
  Plan scan_above;
  scan_above.search_dims = kResident + 1;
  const absl::StatusOr<Plan> refused = ResolveFlatPlan(scan_above, kDim, kK, kResident);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("resident_dims = 4"), std::string::npos);

  // The same funnel on both tables: the same ids and the same full-dim scores.
  const SearchResult from_memory = FlatSearch(whole, Metric::kL2, query, kK, *funnel);
  const int reads_before = stored.reads;
  const SearchResult from_storage = FlatSearch(tiered, Metric::kL2, query, kK, *funnel);
  EXPECT_EQ(stored.reads, reads_before + 1);  // one batch for the whole re-rank
  ASSERT_EQ(from_storage.hits.size(), from_memory.hits.size());
  for (size_t i = 0; i < from_memory.hits.size(); ++i) {
    EXPECT_EQ(from_storage.hits[i].id, from_memory.hits[i].id);
    EXPECT_EQ(from_storage.hits[i].score, from_memory.hits[i].score);
    double exact = 0;  // squared L2 at the full dim, in double
    const std::vector<float> row = Row(from_storage.hits[i].id, kDim);
    for (uint32_t j = 0; j < kDim; ++j) exact += (double(query[j]) - row[j]) * (query[j] - row[j]);
    EXPECT_NEAR(from_storage.hits[i].score, exact, 1e-4 * std::max(1.0, exact));
  }
}

}  // namespace
}  // namespace adanns::index
