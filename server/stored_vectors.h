// A collection's full vectors in RocksDB as the vector table's StoredRows: what a tiered
// collection's re-rank, calibration and sampled queries read (one MultiGet per call), observed for
// the fetch metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "index/stored_rows.h"
#include "server/worker_pool.h"
#include "storage/rocks_store.h"

namespace adanns::server {

// Told of every read: rows asked for and its wall time.
using FetchObserver = std::function<void(size_t rows, double seconds)>;

// Rows one parallel read takes at least: below twice this, a fetch is one MultiGet.
inline constexpr size_t kMinRowsPerParallelRead = 16;

class StoredVectors : public index::StoredRows {
 public:
  // `store` (and `readers`, when not null) outlive this object; `observe` may be empty. With
  // `readers`, a fetch of many rows is split into up to readers->size() MultiGets run at once: a
  // MultiGet reads its missing blocks one after the other (this RocksDB has no io_uring), and a
  // re-rank that misses the block cache then waits for ~100 disk reads in a row; in parallel the
  // disk serves them at its queue depth. The readers sleep on I/O, not on the cores.
  StoredVectors(const storage::RocksStore* store, uint32_t collection_id, uint32_t dim,
                FetchObserver observe, WorkerPool* readers = nullptr)
      : store_(store),
        collection_id_(collection_id),
        dim_(dim),
        observe_(std::move(observe)),
        readers_(readers) {}

  absl::Status Read(std::span<const uint64_t> ids, float* out,
                    std::vector<uint8_t>& found) const override;

 private:
  const storage::RocksStore* store_;
  uint32_t collection_id_;
  uint32_t dim_;
  FetchObserver observe_;
  WorkerPool* readers_;
};

}  // namespace adanns::server
