// VectorTable: id → row bookkeeping. Freed rows are reused so row numbers stay dense.
#include "index/vector_table.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/huge_pages.h"

namespace adanns::index {
namespace {

// About 16 MiB per segment: big enough that huge pages cover it and the segment list stays short
// (200 segments for 1M x 768), small enough that a new segment is a cheap allocation. Its pages
// are only touched as rows arrive, so a small table does not pay for a whole segment.
constexpr size_t kSegmentTargetBytes = size_t{16} << 20;

uint32_t SegmentShift(size_t row_bytes) {
  row_bytes = std::max<size_t>(1, row_bytes);
  const size_t rows =
      std::max(VectorTable::kContiguousRows,
               std::bit_floor(std::max<size_t>(1, kSegmentTargetBytes / row_bytes)));
  return static_cast<uint32_t>(std::countr_zero(rows));
}

}  // namespace

VectorTable::VectorTable(uint32_t dim, uint32_t resident_dims, Precision precision)
    : dim_(dim),
      resident_dims_(resident_dims == 0 || resident_dims > dim ? dim : resident_dims),
      precision_(precision) {
  // int8 starts as fp32 until it has learned its parameters (MaybeLearnInt8).
  SetStoredPrecision(precision == Precision::kInt8 ? Precision::kFloat32 : precision);
}

void VectorTable::SetStoredPrecision(Precision precision) {
  assert(segments_.empty());
  stored_precision_ = precision;
  row_bytes_ = size_t{resident_dims_} * BytesPerValue(precision);
  segment_shift_ = SegmentShift(row_bytes_);
  segment_mask_ = segment_rows() - 1;
}

void VectorTable::AddSegment() {
  // A segment is at least 8 MiB, so the allocator takes its huge-page path (aligned_alloc, advised
  // before any touch), which FreeSegment's free() matches.
  const size_t bytes = segment_rows() * row_bytes_;
  assert(bytes >= kHugePageBytes);
  segments_.emplace_back(HugePageAllocator<uint8_t>().allocate(bytes));
}

void VectorTable::ReserveAppend(size_t rows) {
  while (segments_.size() < SegmentsFor(rows)) AddSegment();
}

void VectorTable::PrefaultAppend(size_t rows) {
  const size_t last = std::min(row_count() + rows, segments_.size() << segment_shift_);
  for (size_t row = row_count(); row < last;) {
    // Rows of one segment are contiguous.
    const size_t segment_end = std::min(last, ((row >> segment_shift_) + 1) << segment_shift_);
    PrefaultPages(MutableRowBytes(static_cast<RowId>(row)), (segment_end - row) * row_bytes_);
    row = segment_end;
  }
}

void VectorTable::Encode(const float* values, uint8_t* out) const {
  switch (stored_precision_) {
    case Precision::kFloat32:
      std::memcpy(out, values, row_bytes_);
      return;
    case Precision::kFloat16:
      EncodeFloat16(values, resident_dims_, reinterpret_cast<uint16_t*>(out));
      return;
    case Precision::kInt8:
      EncodeInt8(values, resident_dims_, int8_params_, out);
      return;
  }
}

const float* VectorTable::RowPrefix(RowId row, uint32_t dims, float* scratch) const {
  assert(dims <= resident_dims_);
  if (stored_precision_ == Precision::kFloat32) {
    return reinterpret_cast<const float*>(RowBytes(row));
  }
  DecodeRows(stored_precision_, RowBytes(row), row_bytes_, 1, dims, &int8_params_, scratch);
  return scratch;
}

const float* VectorTable::BlockPrefix(RowId first, size_t n, uint32_t dims, float* scratch,
                                      size_t& stride) const {
  assert(first % kContiguousRows == 0 && n <= kContiguousRows && dims <= resident_dims_);
  if (stored_precision_ == Precision::kFloat32) {
    stride = resident_dims_;
    return reinterpret_cast<const float*>(RowBytes(first));
  }
  stride = dims;
  DecodeRows(stored_precision_, RowBytes(first), row_bytes_, n, dims, &int8_params_, scratch);
  return scratch;
}

void VectorTable::Reencode(Precision precision) {
  std::vector<Segment> old = std::move(segments_);
  const size_t old_shift = segment_shift_;
  const size_t old_mask = segment_mask_;
  const size_t old_row_bytes = row_bytes_;
  const Precision old_precision = stored_precision_;
  segments_.clear();
  SetStoredPrecision(precision);
  std::vector<float> values(resident_dims_);
  for (size_t row = 0; row < row_count(); ++row) {
    if ((row >> segment_shift_) == segments_.size()) AddSegment();
    const uint8_t* from = old[row >> old_shift].get() + (row & old_mask) * old_row_bytes;
    DecodeRows(old_precision, from, old_row_bytes, 1, resident_dims_, &int8_params_, values.data());
    Encode(values.data(), MutableRowBytes(static_cast<RowId>(row)));
  }
}

void VectorTable::MaybeLearnInt8() {
  if (precision_ != Precision::kInt8 || stored_precision_ == Precision::kInt8 ||
      size() < kInt8LearnRows) {
    return;
  }
  // Rows are fp32 here: learn from the live ones, gathered densely.
  std::vector<float> live;
  live.reserve(size() * resident_dims_);
  for (size_t row = 0; row < row_count(); ++row) {
    if (!live_[row]) continue;
    const auto* values = reinterpret_cast<const float*>(RowBytes(static_cast<RowId>(row)));
    live.insert(live.end(), values, values + resident_dims_);
  }
  int8_params_ = LearnInt8Params(live.data(), size(), resident_dims_, resident_dims_);
  Reencode(Precision::kInt8);
}

absl::Status VectorTable::SetInt8Params(Int8Params params) {
  if (precision_ != Precision::kInt8) {
    return absl::InvalidArgumentError("int8 parameters given to a table that is not int8");
  }
  if (params.dims() < resident_dims_ || params.scale.size() != params.offset.size()) {
    return absl::InvalidArgumentError(absl::StrCat("int8 parameters cover ", params.dims(),
                                                   " dims; the table keeps ", resident_dims_));
  }
  // A re-encode decodes with the current parameters: fp32 rows first, then the new ones.
  if (stored_precision_ == Precision::kInt8) Reencode(Precision::kFloat32);
  int8_params_ = std::move(params);
  Reencode(Precision::kInt8);
  return absl::OkStatus();
}

RowId VectorTable::Upsert(uint64_t id, std::span<const float> values) {
  assert(values.size() >= resident_dims_);
  RowId row;
  if (auto it = id_to_row_.find(id); it != id_to_row_.end()) {
    row = it->second;
  } else if (!free_rows_.empty()) {
    row = free_rows_.back();
    free_rows_.pop_back();
    id_to_row_.emplace(id, row);
  } else {
    row = static_cast<RowId>(row_ids_.size());
    if ((row >> segment_shift_) == segments_.size()) AddSegment();
    row_ids_.push_back(0);
    live_.push_back(0);
    id_to_row_.emplace(id, row);
  }
  row_ids_[row] = id;
  live_[row] = 1;
  Encode(values.data(), MutableRowBytes(row));
  MaybeLearnInt8();
  return row;
}

absl::Status VectorTable::ReadFullRows(std::span<const RowId> rows, float* out,
                                       std::vector<uint8_t>& found) const {
  found.assign(rows.size(), 0);
  if (!tiered()) {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] >= row_count() || !IsLive(rows[i])) continue;
      std::memcpy(out + i * dim_, RowBytes(rows[i]), row_bytes_);
      found[i] = 1;
    }
    return absl::OkStatus();
  }
  if (stored_ == nullptr) {
    return absl::FailedPreconditionError("a tiered vector table needs its stored rows to read");
  }
  std::vector<uint64_t> ids;
  std::vector<size_t> positions;  // of the live rows, in `rows`
  ids.reserve(rows.size());
  positions.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= row_count() || !IsLive(rows[i])) continue;
    ids.push_back(IdOf(rows[i]));
    positions.push_back(i);
  }
  if (ids.empty()) return absl::OkStatus();
  // Read compactly, then spread to the callers' positions (back to front: a position is never
  // below its compact index, so nothing is overwritten before it is moved).
  std::vector<uint8_t> read_found;
  const absl::Status status = stored_->Read(ids, out, read_found);
  tls_fetch_ledger.rows += ids.size();
  if (!status.ok()) {
    if (tls_fetch_ledger.error.ok()) tls_fetch_ledger.error = status;
    return status;
  }
  for (size_t j = ids.size(); j-- > 0;) {
    const size_t i = positions[j];
    if (i != j) std::copy_n(out + j * dim_, dim_, out + i * dim_);
    found[i] = read_found[j];
  }
  return absl::OkStatus();
}

bool VectorTable::Remove(uint64_t id) {
  auto it = id_to_row_.find(id);
  if (it == id_to_row_.end()) return false;
  const RowId row = it->second;
  id_to_row_.erase(it);
  live_[row] = 0;
  free_rows_.push_back(row);
  return true;
}

absl::Status VectorTable::ReadPrefixes(std::span<const RowId> rows, uint32_t dims, float* out,
                                       std::vector<uint8_t>& found) const {
  if (dims <= resident_dims_) {
    found.assign(rows.size(), 0);
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] >= row_count() || !IsLive(rows[i])) continue;
      float* dst = out + i * dims;
      const float* prefix = RowPrefix(rows[i], dims, dst);
      if (prefix != dst) std::copy_n(prefix, dims, dst);
      found[i] = 1;
    }
    return absl::OkStatus();
  }
  std::vector<float> full(rows.size() * size_t{dim_});
  RETURN_IF_ERROR(ReadFullRows(rows, full.data(), found));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (found[i]) std::copy_n(full.data() + i * dim_, dims, out + i * dims);
  }
  return absl::OkStatus();
}

std::optional<RowId> VectorTable::RowOf(uint64_t id) const {
  auto it = id_to_row_.find(id);
  if (it == id_to_row_.end()) return std::nullopt;
  return it->second;
}

absl::Status CheckBuildPrefix(absl::string_view field, uint32_t value, uint32_t dim,
                              uint32_t resident_dims) {
  if (value >= 1 && value <= resident_dims) return absl::OkStatus();
  if (resident_dims < dim && value <= dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " = ", value, " is above the collection's resident_dims = ", resident_dims,
        ": an index build copies its prefix into memory, which holds only the first ",
        resident_dims, " dims of each vector"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be in 1..", dim, " (0 = default), got ", value));
}

}  // namespace adanns::index
