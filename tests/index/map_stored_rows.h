// Full vectors kept beside a tiered VectorTable, as the server's RocksDB keeps them, for index/
// and quant/ tests: reads are counted and can be made to fail.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "index/vector_table.h"

namespace adanns::index {

// Reads count their calls (`reads`); `fail` makes them UNAVAILABLE.
class MapStoredRows : public StoredRows {
 public:
  explicit MapStoredRows(uint32_t dim) : dim_(dim) {}
  void Put(uint64_t id, std::vector<float> values) { rows_[id] = std::move(values); }
  void Erase(uint64_t id) { rows_.erase(id); }
  absl::Status Read(std::span<const uint64_t> ids, float* out,
                    std::vector<uint8_t>& found) const override {
    ++reads;
    if (fail) return absl::UnavailableError("disk gone");
    found.assign(ids.size(), 0);
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto it = rows_.find(ids[i]);
      if (it == rows_.end()) continue;
      std::copy(it->second.begin(), it->second.end(), out + i * dim_);
      found[i] = 1;
    }
    return absl::OkStatus();
  }
  mutable int reads = 0;
  bool fail = false;

 private:
  uint32_t dim_;
  absl::flat_hash_map<uint64_t, std::vector<float>> rows_;
};

}  // namespace adanns::index
