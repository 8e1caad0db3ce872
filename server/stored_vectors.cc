// StoredVectors: RocksStore::GetVectors behind index::StoredRows, timed for the metrics.
#include "server/stored_vectors.h"

#include <algorithm>
#include <chrono>
#include <mutex>

namespace adanns::server {

absl::Status StoredVectors::Read(std::span<const uint64_t> ids, float* out,
                                 std::vector<uint8_t>& found) const {
  found.assign(ids.size(), 0);
  const auto start = std::chrono::steady_clock::now();
  absl::Status status;
  if (readers_ == nullptr || readers_->size() < 2 || ids.size() < 2 * kMinRowsPerParallelRead) {
    status = store_->GetVectors(collection_id_, dim_, ids, {out, ids.size() * dim_}, found);
  } else {
    const size_t n = ids.size();
    const size_t parts = std::min(readers_->size(), n / kMinRowsPerParallelRead);
    std::mutex error_mutex;
    readers_->ParallelFor(parts, [&](size_t first_part, size_t last_part) {
      for (size_t part = first_part; part < last_part; ++part) {
        const size_t begin = n * part / parts, end = n * (part + 1) / parts;
        const absl::Status read =
            store_->GetVectors(collection_id_, dim_, ids.subspan(begin, end - begin),
                               {out + begin * dim_, (end - begin) * dim_},
                               std::span<uint8_t>(found).subspan(begin, end - begin));
        std::lock_guard lock(error_mutex);
        if (status.ok()) status = read;
      }
    });
  }
  if (observe_) {
    observe_(ids.size(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return status;
}

}  // namespace adanns::server
