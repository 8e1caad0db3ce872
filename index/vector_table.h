// In-memory table of vectors: external uint64 ids mapped to dense internal rows, rows stored
// row-major so any prefix is a strided view. A tiered table keeps only the first resident_dims of
// every vector (the Matryoshka prefix the scans read); longer prefixes come from the full vectors
// in storage (StoredRows: one batched read per stage, ReadFullRows).
//
// The resident prefix is held as fp32, fp16 or per-dimension int8 (prefix_codec.h). A quantised
// table scores decoded values in its scans (the shortlist), and every re-rank reads the exact
// vectors from storage (RerankReadsStorage). An int8 table holds fp32 until kInt8LearnRows vectors
// are live, then learns one (offset, scale) per dimension from them and re-encodes every row once.
//
// Rows live in fixed-size segments that never move: growing the table allocates one more segment
// instead of reallocating (and copying) every row, which would happen inside the exclusive hold a
// writer takes and stall every search for as long as the copy takes (a 1M x 768 table is 3 GB).
// A segment holds a power of two of rows, a multiple of kContiguousRows, so blocks of that many
// rows starting at a multiple of it are contiguous.
#pragma once

#include <cassert>
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
#include "index/prefix_codec.h"
#include "index/stored_rows.h"

namespace adanns::index {

using ::adanns::RowId;

class VectorTable {
 public:
  // Rows [b, b + kContiguousRows) are contiguous in memory when b is a multiple of it.
  static constexpr size_t kContiguousRows = 256;

  // Live vectors an int8 table learns its parameters from. Below it the table holds fp32 (exact,
  // 4x the bytes): a few thousand rows pin each dimension's range well enough, and the one
  // re-encode (about 8k x resident_dims values, a few ms) happens inside one writer's hold.
  static constexpr size_t kInt8LearnRows = 8192;

  // `resident_dims` 0 (or dim): every vector whole in memory.
  explicit VectorTable(uint32_t dim, uint32_t resident_dims = 0,
                       Precision precision = Precision::kFloat32);

  // The collection's full dim.
  uint32_t dim() const { return dim_; }
  // Values held per row: the longest prefix a scan may read in memory.
  uint32_t resident_dims() const { return resident_dims_; }
  // The configured precision of the resident prefix.
  Precision precision() const { return precision_; }
  // How rows are held now: precision(), except an int8 table before it learned its parameters.
  Precision stored_precision() const { return stored_precision_; }
  bool quantized() const { return precision_ != Precision::kFloat32; }
  // Whether the exact full vectors are not all in memory (read from storage when needed).
  bool tiered() const { return resident_dims_ < dim_ || quantized(); }
  // Whether a re-rank at `dims` reads the candidates from storage: above the resident prefix, or
  // at any dims on a quantised table (re-ranks give exact scores; decoded values only shortlist).
  bool RerankReadsStorage(uint32_t dims) const { return dims > resident_dims_ || quantized(); }
  // The learned int8 parameters; null until learned (and always for other precisions).
  const Int8Params* int8_params() const {
    return stored_precision_ == Precision::kInt8 ? &int8_params_ : nullptr;
  }
  // Installs int8 parameters learned earlier (start-up, before the rows), re-encoding any rows
  // held. INVALID_ARGUMENT unless the table is int8 and params cover resident_dims.
  absl::Status SetInt8Params(Int8Params params);
  // Where a tiered table's full vectors are read from (not owned; set once, before any search).
  void set_stored_rows(const StoredRows* stored) { stored_ = stored; }
  // Live vectors.
  size_t size() const { return id_to_row_.size(); }
  // Rows allocated, live or free; valid row numbers are [0, row_count()).
  size_t row_count() const { return row_ids_.size(); }
  // Bytes held by the rows in use (a segment's pages are touched only as rows fill it).
  size_t memory_bytes() const { return row_count() * row_bytes_; }
  // Rows per segment (a power of two, a multiple of kContiguousRows).
  size_t segment_rows() const { return size_t{1} << segment_shift_; }

  // Stores `values` (dim floats, or at least resident_dims: the prefix is what is kept) under
  // `id`: replaces the id's row in place, or takes a free row, or appends one. Returns the row.
  RowId Upsert(uint64_t id, std::span<const float> values);
  // Frees the id's row. Returns false when the id is absent.
  bool Remove(uint64_t id);

  // The table's only appender readies the memory of the next `rows` rows past row_count(), so
  // that the exclusive hold appending them does not first-touch fresh pages (on the 2-core dev
  // VM: 2 ms per 768 KiB of fresh 4 KiB pages, up to 4.5 ms per fresh 2 MiB page, against
  // 0.04 ms once touched; most of an applier's 256-row hold). When AppendNeedsSegments, call
  // ReserveAppend under the exclusive hold (it allocates, touching nothing); then PrefaultAppend
  // with no hold: it writes only rows past row_count(), which no reader looks at. Only the
  // appender changes row_count() and the segment list, so it may read them without a hold.
  bool AppendNeedsSegments(size_t rows) const { return SegmentsFor(rows) > segments_.size(); }
  void ReserveAppend(size_t rows);
  void PrefaultAppend(size_t rows);

  std::optional<RowId> RowOf(uint64_t id) const;
  bool IsLive(RowId row) const { return live_[row] != 0; }
  uint64_t IdOf(RowId row) const { return row_ids_[row]; }
  // The row's resident prefix in place; only while rows are held as fp32 (stored_precision).
  const float* RowData(RowId row) const {
    assert(stored_precision_ == Precision::kFloat32);
    return reinterpret_cast<const float*>(RowBytes(row));
  }
  // The first `dims` (<= resident_dims) values of the row as floats: in place when held as fp32,
  // else decoded into `scratch` (dims floats). Valid until the table changes or scratch is reused.
  const float* RowPrefix(RowId row, uint32_t dims, float* scratch) const;
  // The same for rows [first, first + n) of one contiguous block (first a multiple of
  // kContiguousRows, n <= kContiguousRows): row i at result + i * stride; scratch holds n x dims.
  const float* BlockPrefix(RowId first, size_t n, uint32_t dims, float* scratch,
                           size_t& stride) const;
  // The full vectors of `rows` (dim floats each, at out + i * dim): copied from memory when the
  // table holds them whole, else read from the stored rows in one batch (counted in
  // tls_fetch_ledger). found[i] = 0 for a row that is not live, or whose id storage no longer
  // holds. FAILED_PRECONDITION for a tiered table without stored rows.
  absl::Status ReadFullRows(std::span<const RowId> rows, float* out,
                            std::vector<uint8_t>& found) const;
  // The first `dims` (1..dim) values of `rows` (at out + i * dims): RowPrefix's values when dims
  // <= resident_dims, else cut from ReadFullRows (one batched read: what a codebook above the
  // resident prefix pays to train and encode). found[i] as ReadFullRows.
  absl::Status ReadPrefixes(std::span<const RowId> rows, uint32_t dims, float* out,
                            std::vector<uint8_t>& found) const;

 private:
  struct FreeSegment {
    void operator()(uint8_t* data) const { std::free(data); }
  };
  using Segment = std::unique_ptr<uint8_t[], FreeSegment>;

  const uint8_t* RowBytes(RowId row) const {
    return segments_[row >> segment_shift_].get() + (row & segment_mask_) * row_bytes_;
  }
  uint8_t* MutableRowBytes(RowId row) {
    return segments_[row >> segment_shift_].get() + (row & segment_mask_) * row_bytes_;
  }
  void AddSegment();
  // Segments that rows [0, row_count() + rows) occupy.
  size_t SegmentsFor(size_t rows) const {
    return (row_count() + rows + segment_rows() - 1) >> segment_shift_;
  }
  // Sets how rows are held (row bytes, segment geometry); the table must hold no segment.
  void SetStoredPrecision(Precision precision);
  void Encode(const float* values, uint8_t* out) const;
  // Re-encodes every row at `precision` into new segments (rows, ids and liveness unchanged).
  void Reencode(Precision precision);
  // An int8 table still holding fp32 with kInt8LearnRows live rows learns and re-encodes.
  void MaybeLearnInt8();

  uint32_t dim_;
  uint32_t resident_dims_;
  Precision precision_;
  Precision stored_precision_ = Precision::kFloat32;
  Int8Params int8_params_;
  size_t row_bytes_ = 0;
  const StoredRows* stored_ = nullptr;
  uint32_t segment_shift_;
  size_t segment_mask_;
  std::vector<Segment> segments_;  // huge-page advised
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
