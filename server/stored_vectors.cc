// StoredVectors: RocksStore::GetVectors behind index::StoredRows, timed for the metrics.
#include "server/stored_vectors.h"

#include <chrono>

namespace adanns::server {

absl::Status StoredVectors::Read(std::span<const uint64_t> ids, float* out,
                                 std::vector<uint8_t>& found) const {
  found.assign(ids.size(), 0);
  const auto start = std::chrono::steady_clock::now();
  absl::Status status =
      store_->GetVectors(collection_id_, dim_, ids, {out, ids.size() * dim_}, found);
  if (observe_) {
    observe_(ids.size(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return status;
}

}  // namespace adanns::server
