// What the server's collections and the planner need of every index kind (IVF, graph, later
// codebooks): plan resolution, search, write maintenance, serialization and a description.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
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

class CandidateSource;
class CandidateScorer;

// Insert work an index did ahead of the exclusive hold (see ServedIndex::PrepareUpsert).
class PreparedUpsert {
 public:
  virtual ~PreparedUpsert() = default;
};

class ServedIndex {
 public:
  virtual ~ServedIndex() = default;

  // "ivf", "hnsw", "opq": what Plan.index selects.
  virtual std::string_view kind() const = 0;
  // The name the index is served, stored and dropped under: its kind, or for codebooks of which a
  // collection may hold several, a name per codebook ("opq128x16", selected by Plan.codebook).
  virtual std::string_view name() const { return kind(); }

  // Composite plans ("ivf_opq"): an index that proposes candidate rows (the IVF's probed lists),
  // and one that scores them its own way (a codebook's codes). Null when the index is neither.
  virtual const CandidateSource* candidate_source() const { return nullptr; }
  virtual const CandidateScorer* candidate_scorer() const { return nullptr; }

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

  // Upsert split in two so that searches need not wait for its costly part. PrepareUpsert gets
  // the new row's id and values (copied): it reads only them and the index's own state, with no
  // table hold, beside searches (which only read too). ApplyUpsert finishes the insert under the
  // exclusive hold (linking the node: bounded work). Both are called by the one thread that
  // inserts into the index, and the caller keeps every other change of the index (Remove) out
  // while Prepare runs. If the row changed or the index saw a Remove in between, Apply must still
  // leave a valid index (the change queues another insert). Null from Prepare: Apply does the
  // whole Upsert.
  virtual std::unique_ptr<PreparedUpsert> PrepareUpsert(uint64_t /*id*/,
                                                        std::span<const float> /*vector*/) {
    return nullptr;
  }
  // Leading dims of the values PrepareUpsert reads (0: the table's resident prefix suffices). Above
  // the resident prefix (a codebook longer than it) the inserter reads the full vector from
  // storage first, with no table hold.
  virtual uint32_t upsert_dims() const { return 0; }
  // PrepareUpsert of a row's resident prefix (the caller keeps the table still meanwhile).
  std::unique_ptr<PreparedUpsert> PrepareUpsertOfRow(const VectorTable& table, RowId row) {
    std::vector<float> scratch(table.resident_dims());
    const float* prefix = table.RowPrefix(row, table.resident_dims(), scratch.data());
    return PrepareUpsert(table.IdOf(row), {prefix, table.resident_dims()});
  }
  // Bounded background work the index wants before its next insert (a graph growing its node
  // arrays), by the same thread, each step under its own shared hold so that writers and searches
  // interleave. True while steps remain; meanwhile the index must gain no entry.
  virtual bool UpkeepStep() { return false; }
  virtual void ApplyUpsert(const VectorTable& table, RowId row,
                           std::unique_ptr<PreparedUpsert> /*prepared*/) {
    Upsert(table, row);
  }

  // Bytes a matching Deserialize restores (format version and checksum inside).
  virtual absl::StatusOr<std::string> Serialize() const = 0;

  virtual size_t memory_bytes() const = 0;
  // Vectors the collection held when the index was built (growth since then advises a rebuild).
  virtual uint64_t trained_vectors() const = 0;
  // Build parameters, resolved, as DescribeCollection shows them.
  virtual std::vector<std::pair<std::string, double>> described_params() const = 0;
};

// The first stage of a composite plan: groups of candidate rows for a query.
class CandidateSource {
 public:
  virtual ~CandidateSource() = default;
  // Fills the plan's first-stage fields (IVF: coarse_dims, nprobe) from defaults and validates
  // them (INVALID_ARGUMENT naming the field).
  virtual absl::Status ResolveCandidates(Plan& plan) const = 0;
  // FLOPs spent choosing the groups (IVF: ranking the centroids).
  virtual double SelectionFlops(const Plan& resolved) const = 0;
  // Calls `visit` with each group of candidate rows (IVF: each probed list, nearest first) until
  // it returns false. Rows are live rows of the table the index serves.
  virtual void ForEachCandidateGroup(
      std::span<const float> query, const Plan& resolved,
      const std::function<bool(std::span<const RowId>)>& visit) const = 0;
};

// The rest of a composite plan: scores a source's candidates, then what follows (re-rank).
class CandidateScorer {
 public:
  virtual ~CandidateScorer() = default;
  virtual absl::StatusOr<Plan> ResolvePlan(const Plan& requested, uint32_t k,
                                           const CandidateSource& source) const = 0;
  virtual SearchResult Search(const VectorTable& table, std::span<const float> query, uint32_t k,
                              const Plan& resolved, const CandidateSource& source) const = 0;
};

}  // namespace adanns::index
