// What the server's collections and the planner need of every index kind (IVF, graph, later
// codebooks): plan resolution, search, write maintenance, serialization and a description.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "index/plan.h"
#include "index/vector_table.h"

namespace adanns::index {

// Runs `read` while the table is held still. The server passes one that takes the table's shared
// lock, so a build reads in short chunks and writers interleave; rows written after the build
// started must then be replayed into the index (Upsert / Remove) before it is published.
using TableAccess = std::function<void(const std::function<void(const VectorTable&)>& read)>;
// Receives build progress as a fraction in [0, 1].
using Progress = std::function<void(double)>;

class ServedIndex {
 public:
  virtual ~ServedIndex() = default;

  // "ivf", "hnsw": the name the index is served under and Plan.index selects.
  virtual std::string_view kind() const = 0;

  // Fills unset fields of `requested` from the index's defaults and validates the rest
  // (INVALID_ARGUMENT naming what the index does not hold).
  virtual absl::StatusOr<Plan> ResolvePlan(const Plan& requested, uint32_t k) const = 0;
  // Runs a plan ResolvePlan returned; `query` has at least the plan's QueryDimsNeeded() floats.
  virtual SearchResult Search(const VectorTable& table, std::span<const float> query, uint32_t k,
                              const Plan& resolved) const = 0;

  // Writers, under the collection's exclusive hold: `row` of `table` now holds a new or changed
  // vector; or `row` held `id`, which is being deleted (the row may be reused later).
  virtual void Upsert(const VectorTable& table, RowId row) = 0;
  virtual void Remove(RowId row, uint64_t id) = 0;

  // Bytes a matching Deserialize restores (format version and checksum inside).
  virtual absl::StatusOr<std::string> Serialize() const = 0;

  virtual size_t memory_bytes() const = 0;
  // Vectors the collection held when the index was built (growth since then advises a rebuild).
  virtual uint64_t trained_vectors() const = 0;
  // Build parameters, resolved, as DescribeCollection shows them.
  virtual std::vector<std::pair<std::string, double>> described_params() const = 0;
};

}  // namespace adanns::index
