// VectorTable keeps ids, rows and free rows consistent through upserts, replacements, deletes;
// a tiered table keeps only the resident prefix and reads full rows from its stored rows; a
// quantised one holds fp16 or learned int8 values, decodes them for scans and re-ranks exactly.
// Readying the memory of appends ahead (ReserveAppend, PrefaultAppend) adds segments only when
// needed and changes no row.
#include "index/vector_table.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "index/flat_search.h"
#include "index/float16.h"
#include "index/stage_scorer.h"
#include "tests/index/map_stored_rows.h"

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

std::vector<float> Row(uint64_t id, uint32_t dim) {
  std::vector<float> values(dim);
  for (uint32_t j = 0; j < dim; ++j) values[j] = float((id * 7 + j * 3) % 11) - 5.0f + 0.01f * id;
  return values;
}

TEST(VectorTableTest, ReadyingAppendsAcrossASegmentBoundaryChangesNoRow) {
  constexpr uint32_t kDim = 16;
  VectorTable table(kDim);
  const size_t per_segment = table.segment_rows();
  EXPECT_TRUE(table.AppendNeedsSegments(1));  // an empty table has no segment
  table.ReserveAppend(1);
  EXPECT_FALSE(table.AppendNeedsSegments(per_segment));
  EXPECT_TRUE(table.AppendNeedsSegments(per_segment + 1));
  // Fill the first segment but 100 rows, then ready 300 more: 200 of them in a second segment.
  for (uint64_t id = 0; id + 100 < per_segment; ++id) table.Upsert(id, Row(id, kDim));
  ASSERT_TRUE(table.AppendNeedsSegments(300));
  table.ReserveAppend(300);
  EXPECT_FALSE(table.AppendNeedsSegments(300));
  table.PrefaultAppend(300);
  EXPECT_EQ(table.row_count(), per_segment - 100);  // readied rows are not rows
  for (uint64_t id = per_segment - 100; id < per_segment + 200; ++id) {
    table.Upsert(id, Row(id, kDim));
  }
  ASSERT_EQ(table.size(), per_segment + 200);
  for (uint64_t id = 0; id < per_segment + 200; id += 997) {
    const std::vector<float> expected = Row(id, kDim);
    const RowId row = *table.RowOf(id);
    EXPECT_EQ(std::vector<float>(table.RowData(row), table.RowData(row) + kDim), expected)
        << "id " << id;
  }
  const RowId last = *table.RowOf(per_segment + 199);
  EXPECT_EQ(std::vector<float>(table.RowData(last), table.RowData(last) + kDim),
            Row(per_segment + 199, kDim));
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

TEST(VectorTableTest, Float16TableHoldsRoundedPrefixesAndReranksFromStorage) {
  constexpr uint32_t kDim = 8, kResident = 8, kRows = 300;
  VectorTable table(kDim, kResident, Precision::kFloat16);
  MapStoredRows stored(kDim);
  table.set_stored_rows(&stored);
  // A quantised table is tiered even when every dim is resident: exact values are in storage.
  EXPECT_TRUE(table.quantized());
  EXPECT_TRUE(table.tiered());
  EXPECT_TRUE(table.RerankReadsStorage(4));
  for (uint64_t id = 0; id < kRows; ++id) {
    table.Upsert(id, Row(id, kDim));
    stored.Put(id, Row(id, kDim));
  }
  EXPECT_EQ(table.memory_bytes(), kRows * kResident * sizeof(uint16_t));
  // One row decoded, and a block decoded, give fp16's rounding of each value.
  std::vector<float> scratch(VectorTable::kContiguousRows * kResident);
  const float* row = table.RowPrefix(*table.RowOf(7), 5, scratch.data());
  for (uint32_t j = 0; j < 5; ++j) EXPECT_EQ(row[j], RoundToFloat16(Row(7, kDim)[j])) << j;
  size_t stride = 0;
  const float* block = table.BlockPrefix(0, 10, 3, scratch.data(), stride);
  EXPECT_EQ(stride, 3u);
  for (RowId r = 0; r < 10; ++r) {
    for (uint32_t j = 0; j < 3; ++j) {
      EXPECT_EQ(block[r * stride + j], RoundToFloat16(Row(table.IdOf(r), kDim)[j]));
    }
  }
  // Full rows come from storage, exact.
  std::vector<float> full(kDim);
  std::vector<uint8_t> found;
  ASSERT_TRUE(table.ReadFullRows(std::vector<RowId>{*table.RowOf(11)}, full.data(), found).ok());
  EXPECT_EQ(full, Row(11, kDim));

  // The default flat plan is the funnel, whose re-rank reads storage: exact full-dim scores.
  const std::vector<float> query = Row(5000, kDim);
  const absl::StatusOr<Plan> funnel = ResolveFlatPlan({}, kDim, 5, kResident, /*quantized=*/true);
  ASSERT_TRUE(funnel.ok()) << funnel.status();
  ASSERT_TRUE(funnel->has_rerank());
  VectorTable whole(kDim);
  for (uint64_t id = 0; id < kRows; ++id) whole.Upsert(id, Row(id, kDim));
  const int reads_before = stored.reads;
  const SearchResult quantised = FlatSearch(table, Metric::kL2, query, 5, *funnel);
  EXPECT_EQ(stored.reads, reads_before + 1);
  Plan exact;
  exact.search_dims = kDim;
  const SearchResult reference = FlatSearch(whole, Metric::kL2, query, 5, exact);
  ASSERT_EQ(quantised.hits.size(), reference.hits.size());
  for (size_t i = 0; i < reference.hits.size(); ++i) {
    EXPECT_EQ(quantised.hits[i].id, reference.hits[i].id) << i;
    EXPECT_FLOAT_EQ(quantised.hits[i].score, reference.hits[i].score) << i;
  }
}

TEST(VectorTableTest, Int8TableHoldsFloat32UntilItLearnsThenEncodes) {
  constexpr uint32_t kDim = 6, kResident = 4;
  VectorTable table(kDim, kResident, Precision::kInt8);
  const size_t learn = VectorTable::kInt8LearnRows;
  for (uint64_t id = 0; id + 1 < learn; ++id) table.Upsert(id, Row(id, kDim));
  // Below the threshold: fp32, exact, 4 bytes a value.
  EXPECT_EQ(table.stored_precision(), Precision::kFloat32);
  EXPECT_EQ(table.int8_params(), nullptr);
  EXPECT_EQ(table.memory_bytes(), (learn - 1) * kResident * sizeof(float));
  EXPECT_EQ(table.RowData(*table.RowOf(3))[2], Row(3, kDim)[2]);
  // The threshold's row learns the parameters and re-encodes every row: 1 byte a value, each
  // value within half a step of its original.
  table.Upsert(learn - 1, Row(learn - 1, kDim));
  ASSERT_EQ(table.stored_precision(), Precision::kInt8);
  ASSERT_NE(table.int8_params(), nullptr);
  EXPECT_EQ(table.memory_bytes(), learn * kResident);
  const Int8Params learned = *table.int8_params();
  std::vector<float> scratch(kResident);
  for (const uint64_t id : {uint64_t{0}, uint64_t{3}, uint64_t{learn - 1}}) {
    const float* row = table.RowPrefix(*table.RowOf(id), kResident, scratch.data());
    for (uint32_t j = 0; j < kResident; ++j) {
      EXPECT_NEAR(row[j], Row(id, kDim)[j], learned.scale[j] / 2 * 1.001f) << id << " " << j;
    }
  }
  // Later rows encode with the learned parameters; a value outside the range clamps.
  std::vector<float> outside = Row(1, kDim);
  outside[0] = 1e6f;
  table.Upsert(99999999, outside);
  const float* clamped = table.RowPrefix(*table.RowOf(99999999), kResident, scratch.data());
  EXPECT_NEAR(clamped[0], learned.offset[0] + 255 * learned.scale[0], 1e-3f);

  // Start-up installs persisted parameters before the rows: rows encode with them directly.
  VectorTable restarted(kDim, kResident, Precision::kInt8);
  ASSERT_TRUE(restarted.SetInt8Params(learned).ok());
  EXPECT_EQ(restarted.stored_precision(), Precision::kInt8);
  restarted.Upsert(3, Row(3, kDim));
  std::vector<float> again(kResident);
  const float* first = table.RowPrefix(*table.RowOf(3), kResident, scratch.data());
  EXPECT_EQ(std::vector<float>(first, first + kResident),
            std::vector<float>(
                restarted.RowPrefix(*restarted.RowOf(3), kResident, again.data()),
                restarted.RowPrefix(*restarted.RowOf(3), kResident, again.data()) + kResident));
  // Parameters that do not cover the prefix, or a table that is not int8, are refused.
  Int8Params short_params = learned;
  short_params.offset.pop_back();
  short_params.scale.pop_back();
  EXPECT_EQ(restarted.SetInt8Params(short_params).code(), absl::StatusCode::kInvalidArgument);
  VectorTable fp32(kDim, kResident);
  EXPECT_EQ(fp32.SetInt8Params(learned).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adanns::index
