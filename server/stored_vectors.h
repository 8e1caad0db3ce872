// A collection's full vectors in RocksDB as the vector table's StoredRows: what a tiered
// collection's re-rank, calibration and sampled queries read (one MultiGet per call), observed for
// the fetch metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "index/stored_rows.h"
#include "storage/rocks_store.h"

namespace adanns::server {

// Told of every read: rows asked for and its wall time.
using FetchObserver = std::function<void(size_t rows, double seconds)>;

class StoredVectors : public index::StoredRows {
 public:
  // `store` outlives this object; `observe` may be empty.
  StoredVectors(const storage::RocksStore* store, uint32_t collection_id, uint32_t dim,
                FetchObserver observe)
      : store_(store), collection_id_(collection_id), dim_(dim), observe_(std::move(observe)) {}

  absl::Status Read(std::span<const uint64_t> ids, float* out,
                    std::vector<uint8_t>& found) const override;

 private:
  const storage::RocksStore* store_;
  uint32_t collection_id_;
  uint32_t dim_;
  FetchObserver observe_;
};

}  // namespace adanns::server
