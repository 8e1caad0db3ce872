// In-memory table of vectors: external uint64 ids mapped to dense internal rows, rows stored
// row-major so any prefix is a strided view. A tiered table keeps only the first resident_dims of
// every vector (the Matryoshka prefix the scans read); longer prefixes come from the full vectors
// in storage (StoredRows: one batched read per stage, ReadFullRows).
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
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/ids.h"
#include "index/stored_rows.h"

namespace adanns::index {

using ::adanns::RowId;

class VectorTable {
 public:
  // Rows [b, b + kContiguousRows) are contiguous in memory when b is a multiple of it.
  static constexpr size_t kContiguousRows = 256;

  // `resident_dims` 0 (or dim): every vector whole in memory.
  explicit VectorTable(uint32_t dim, uint32_t resident_dims = 0);

  // The collection's full dim.
  uint32_t dim() const { return dim_; }
  // Floats held per row (RowData's stride): the longest prefix a scan may read in memory.
  uint32_t resident_dims() const { return resident_dims_; }
  bool tiered() const { return resident_dims_ < dim_; }
  // Where a tiered table's full vectors are read from (not owned; set once, before any search).
  void set_stored_rows(const StoredRows* stored) { stored_ = stored; }
  // Live vectors.
  size_t size() const { return id_to_row_.size(); }
  // Rows allocated, live or free; valid row numbers are [0, row_count()).
  size_t row_count() const { return row_ids_.size(); }
  // Bytes held by the rows in use (a segment's pages are touched only as rows fill it).
  size_t memory_bytes() const { return row_count() * resident_dims_ * sizeof(float); }
  // Rows per segment (a power of two, a multiple of kContiguousRows).
  size_t segment_rows() const { return size_t{1} << segment_shift_; }

  // Stores `values` (dim floats, or at least resident_dims: the prefix is what is kept) under
  // `id`: replaces the id's row in place, or takes a free row, or appends one. Returns the row.
  RowId Upsert(uint64_t id, std::span<const float> values);
  // Frees the id's row. Returns false when the id is absent.
  bool Remove(uint64_t id);

  std::optional<RowId> RowOf(uint64_t id) const;
  bool IsLive(RowId row) const { return live_[row] != 0; }
  uint64_t IdOf(RowId row) const { return row_ids_[row]; }
  // The row's resident prefix (resident_dims floats).
  const float* RowData(RowId row) const {
    return segments_[row >> segment_shift_].get() + (row & segment_mask_) * resident_dims_;
  }
  // The full vectors of `rows` (dim floats each, at out + i * dim): copied from memory when the
  // table holds them whole, else read from the stored rows in one batch (counted in
  // tls_fetch_ledger). found[i] = 0 for a row that is not live, or whose id storage no longer
  // holds. FAILED_PRECONDITION for a tiered table without stored rows.
  absl::Status ReadFullRows(std::span<const RowId> rows, float* out,
                            std::vector<uint8_t>& found) const;

 private:
  struct FreeSegment {
    void operator()(float* data) const { std::free(data); }
  };

  float* MutableRow(RowId row) {
    return segments_[row >> segment_shift_].get() + (row & segment_mask_) * resident_dims_;
  }
  void AddSegment();

  uint32_t dim_;
  uint32_t resident_dims_;
  const StoredRows* stored_ = nullptr;
  uint32_t segment_shift_;
  size_t segment_mask_;
  std::vector<std::unique_ptr<float[], FreeSegment>> segments_;  // huge-page advised
  std::vector<uint64_t> row_ids_;
  std::vector<uint8_t> live_;
  std::vector<RowId> free_rows_;
  absl::flat_hash_map<uint64_t, RowId> id_to_row_;
};

// What an index build may copy into memory: a prefix `value` of field `field` must be in
// 1..resident_dims (the table's resident prefix; its dim when not tiered). INVALID_ARGUMENT naming
// the limit otherwise.
absl::Status CheckBuildPrefix(absl::string_view field, uint32_t value, uint32_t dim,
                              uint32_t resident_dims);

}  // namespace adanns::index
