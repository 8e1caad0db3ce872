// In-memory table of full vectors: external uint64 ids mapped to dense internal rows, rows stored
// contiguously (row-major, `dim` floats each) so any prefix is a strided view.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/ids.h"
#include "index/huge_pages.h"

namespace adanns::index {

using ::adanns::RowId;

class VectorTable {
 public:
  explicit VectorTable(uint32_t dim) : dim_(dim) {}

  uint32_t dim() const { return dim_; }
  // Live vectors.
  size_t size() const { return id_to_row_.size(); }
  // Rows allocated, live or free; valid row numbers are [0, row_count()).
  size_t row_count() const { return row_ids_.size(); }
  // Bytes held by the vector rows.
  size_t memory_bytes() const { return values_.capacity() * sizeof(float); }

  // Stores `values` (exactly dim floats) under `id`: replaces the id's row in place, or takes a
  // free row, or appends one. Returns the row.
  RowId Upsert(uint64_t id, std::span<const float> values);
  // Frees the id's row. Returns false when the id is absent.
  bool Remove(uint64_t id);

  std::optional<RowId> RowOf(uint64_t id) const;
  bool IsLive(RowId row) const { return live_[row] != 0; }
  uint64_t IdOf(RowId row) const { return row_ids_[row]; }
  const float* RowData(RowId row) const { return values_.data() + static_cast<size_t>(row) * dim_; }
  // All rows, row-major; free rows hold stale values and must be skipped with IsLive.
  const float* data() const { return values_.data(); }

 private:
  uint32_t dim_;
  std::vector<float, HugePageAllocator<float>> values_;  // huge pages: strided prefix reads
  std::vector<uint64_t> row_ids_;
  std::vector<uint8_t> live_;
  std::vector<RowId> free_rows_;
  absl::flat_hash_map<uint64_t, RowId> id_to_row_;
};

}  // namespace adanns::index
