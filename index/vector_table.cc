// VectorTable: id → row bookkeeping. Freed rows are reused so row numbers stay dense.
#include "index/vector_table.h"

#include <algorithm>
#include <cassert>

namespace adanns::index {

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
    row_ids_.push_back(0);
    live_.push_back(0);
    values_.resize(values_.size() + dim_);
    id_to_row_.emplace(id, row);
  }
  row_ids_[row] = id;
  live_[row] = 1;
  std::copy(values.begin(), values.end(), values_.begin() + static_cast<size_t>(row) * dim_);
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
