// Host-side bookkeeping of a device-resident row table, in plain C++ so it is tested without a GPU:
// how far the table may grow under a memory budget, and which writes of one update survive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "index/vector_table.h"

namespace adanns::index::cuda {

// Rows to allocate so that `needed_rows` fit: grows by half the current capacity (at least 1024
// rows) to amortise copies, but never past what `budget_bytes` allows (0 = no limit).
// RESOURCE_EXHAUSTED only when `needed_rows` themselves are over the budget.
absl::StatusOr<size_t> GrownRowCapacity(size_t needed_rows, size_t capacity, size_t bytes_per_row,
                                        uint64_t budget_bytes);

// Positions of the writes that survive one update, ascending: the last write of each distinct row.
// (A row named twice in one launch would be written by two blocks at once.)
std::vector<size_t> LastWriteOfEachRow(std::span<const RowId> rows);

}  // namespace adanns::index::cuda
