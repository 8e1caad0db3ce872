// GrownRowCapacity and LastWriteOfEachRow.
#include "index/cuda/resident_rows.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace adanns::index::cuda {

absl::StatusOr<size_t> GrownRowCapacity(size_t needed_rows, size_t capacity, size_t bytes_per_row,
                                        uint64_t budget_bytes) {
  if (needed_rows <= capacity) return capacity;
  size_t grown = std::max(needed_rows, capacity + capacity / 2 + 1024);
  if (budget_bytes == 0) return grown;
  const uint64_t affordable = budget_bytes / bytes_per_row;
  if (needed_rows > affordable) {
    return absl::ResourceExhaustedError(
        absl::StrCat(needed_rows, " rows need ", uint64_t{needed_rows} * bytes_per_row,
                     " device bytes, over the GPU memory budget of ", budget_bytes));
  }
  return std::min<uint64_t>(grown, affordable);
}

std::vector<size_t> LastWriteOfEachRow(std::span<const RowId> rows) {
  std::vector<size_t> kept;
  kept.reserve(rows.size());
  absl::flat_hash_set<RowId> seen;
  seen.reserve(rows.size());
  for (size_t i = rows.size(); i-- > 0;) {
    if (seen.insert(rows[i]).second) kept.push_back(i);
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

}  // namespace adanns::index::cuda
