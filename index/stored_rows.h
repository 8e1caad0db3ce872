// Full vectors kept outside the vector table (the server's RocksDB): what a stage reads when it
// needs more dims than the table's resident prefix, and the per-thread record of those reads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"

namespace adanns::index {

class StoredRows {
 public:
  virtual ~StoredRows() = default;
  // Reads ids[i]'s full vector (the collection's dim floats) to out + i * dim, in one batch;
  // found[i] = 0 for an id that has none (deleted since the caller saw it). Ids may repeat and
  // come in any order.
  virtual absl::Status Read(std::span<const uint64_t> ids, float* out,
                            std::vector<uint8_t>& found) const = 0;
};

// What this thread's searches fetched: rows read from storage, and the first failure. A search
// that cannot fetch goes on with what it has (searches return results, not statuses); the caller
// turns a recorded failure into its call's status. One per thread, like the multiply-add counter
// (work_counter.h), so a query reads its own fetches as the difference around its run.
struct FetchLedger {
  uint64_t rows = 0;
  absl::Status error;
};
inline thread_local FetchLedger tls_fetch_ledger;

}  // namespace adanns::index
