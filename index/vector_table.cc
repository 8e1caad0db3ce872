// VectorTable: id → row bookkeeping. Freed rows are reused so row numbers stay dense.
#include "index/vector_table.h"

#include <algorithm>
#include <bit>
#include <cassert>

#include "index/huge_pages.h"

namespace adanns::index {
namespace {

// About 16 MiB per segment: big enough that huge pages cover it and the segment list stays short
// (200 segments for 1M x 768), small enough that a new segment is a cheap allocation. Its pages
// are only touched as rows arrive, so a small table does not pay for a whole segment.
constexpr size_t kSegmentTargetBytes = size_t{16} << 20;

uint32_t SegmentShift(uint32_t dim) {
  const size_t row_bytes = std::max<size_t>(1, size_t{dim} * sizeof(float));
  const size_t rows =
      std::max(VectorTable::kContiguousRows,
               std::bit_floor(std::max<size_t>(1, kSegmentTargetBytes / row_bytes)));
  return static_cast<uint32_t>(std::countr_zero(rows));
}

}  // namespace

VectorTable::VectorTable(uint32_t dim)
    : dim_(dim), segment_shift_(SegmentShift(dim)), segment_mask_(segment_rows() - 1) {}

void VectorTable::AddSegment() {
  // A segment is at least 8 MiB, so the allocator takes its huge-page path (aligned_alloc, advised
  // before any touch), which FreeSegment's free() matches.
  const size_t floats = segment_rows() * dim_;
  assert(floats * sizeof(float) >= kHugePageBytes);
  segments_.emplace_back(HugePageAllocator<float>().allocate(floats));
}

RowId VectorTable::Upsert(uint64_t id, std::span<const float> values) {
  assert(values.size() == dim_);
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
  std::copy(values.begin(), values.end(), MutableRow(row));
  return row;
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

std::optional<RowId> VectorTable::RowOf(uint64_t id) const {
  auto it = id_to_row_.find(id);
  if (it == id_to_row_.end()) return std::nullopt;
  return it->second;
}

}  // namespace adanns::index
