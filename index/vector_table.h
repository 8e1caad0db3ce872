// In-memory table of full vectors: external uint64 ids mapped to dense internal rows, rows stored
// row-major (`dim` floats each) so any prefix is a strided view.
//
// Rows live in fixed-size segments that never move: growing the table allocates one more segment
// instead of reallocating (and copying) every row, which would happen inside the exclusive hold a
// writer takes and stall every search for as long as the copy takes (a 1M x 768 table is 3 GB).
// A segment holds a power of two of rows, a multiple of kContiguousRows, so blocks of that many
// rows starting at a multiple of it are contiguous.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/ids.h"

namespace adanns::index {

using ::adanns::RowId;

class VectorTable {
 public:
  // Rows [b, b + kContiguousRows) are contiguous in memory when b is a multiple of it.
  static constexpr size_t kContiguousRows = 256;

  explicit VectorTable(uint32_t dim);

  uint32_t dim() const { return dim_; }
  // Live vectors.
  size_t size() const { return id_to_row_.size(); }
  // Rows allocated, live or free; valid row numbers are [0, row_count()).
  size_t row_count() const { return row_ids_.size(); }
  // Bytes held by the rows in use (a segment's pages are touched only as rows fill it).
  size_t memory_bytes() const { return row_count() * dim_ * sizeof(float); }
  // Rows per segment (a power of two, a multiple of kContiguousRows).
  size_t segment_rows() const { return size_t{1} << segment_shift_; }

  // Stores `values` (exactly dim floats) under `id`: replaces the id's row in place, or takes a
  // free row, or appends one. Returns the row.
  RowId Upsert(uint64_t id, std::span<const float> values);
  // Frees the id's row. Returns false when the id is absent.
  bool Remove(uint64_t id);

  std::optional<RowId> RowOf(uint64_t id) const;
  bool IsLive(RowId row) const { return live_[row] != 0; }
  uint64_t IdOf(RowId row) const { return row_ids_[row]; }
  const float* RowData(RowId row) const {
    return segments_[row >> segment_shift_].get() + (row & segment_mask_) * dim_;
  }

 private:
  struct FreeSegment {
    void operator()(float* data) const { std::free(data); }
  };

  float* MutableRow(RowId row) {
    return segments_[row >> segment_shift_].get() + (row & segment_mask_) * dim_;
  }
  void AddSegment();

  uint32_t dim_;
  uint32_t segment_shift_;
  size_t segment_mask_;
  std::vector<std::unique_ptr<float[], FreeSegment>> segments_;  // huge-page advised
  std::vector<uint64_t> row_ids_;
  std::vector<uint8_t> live_;
  std::vector<RowId> free_rows_;
  absl::flat_hash_map<uint64_t, RowId> id_to_row_;
};

}  // namespace adanns::index
