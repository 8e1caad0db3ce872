// The harness's view of a search method: a parameter grid, a build step, and a search call that
// reports the work it did. Every method (ours and the baselines) implements this, one file each
// under bench/methods/.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/harness/bench_data.h"

namespace adanns::bench {

// Named numeric parameters of a build or a search (e.g. {"nlist": 1024}, {"nprobe": 8}); written
// as-is into the JSON "params" object.
using Params = std::map<std::string, double>;

// What one build cost and holds.
struct BuildStats {
  double build_s = 0;   // wall time of the whole build
  double train_s = 0;   // part spent training (k-means, codebooks), when it applies
  double encode_s = 0;  // part spent encoding / adding vectors, when it applies
  // Bytes per base vector by component, e.g. {"full_vectors": 3136, "codes": 32}; "total" is
  // computed by the harness as the sum.
  std::map<std::string, double> bytes_per_vector;
  // The huge-page treatment the harness gave the process's memory after this build
  // (memory_policy.h), and how much AnonHugePages the build (and that treatment) added.
  std::string memory_treatment;
  double anon_huge_pages_bytes = 0;
};

// Work done by one query, by the ARCHITECTURE.md cost model (1 multiply-add = 1 FLOP).
struct QueryWork {
  double flops = 0;
  uint64_t vectors_scanned = 0;
  uint64_t vectors_fetched = 0;  // full vectors read from storage (tiered tables)
};

// Block cache lookups so far (cumulative), for methods that read through one.
struct BlockCacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

// One built index. Search must be safe to call from several threads at once between two
// SetSearchParams calls (the harness never changes parameters while queries run).
class BuiltIndex {
 public:
  virtual ~BuiltIndex() = default;
  // Applies one search point of the grid; INVALID_ARGUMENT for unknown or bad parameters.
  virtual absl::Status SetSearchParams(const Params& search) = 0;
  // Top-k base row numbers for one query (dim floats), best first; -1 pads when fewer exist.
  virtual void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const = 0;
  // A batch of n queries (row-major): `ids` receives n * k ids (query i at ids + i * k) and
  // `work` n entries. The default calls Search for each, split over `threads` std::threads;
  // methods with a native batch call (FAISS) override it.
  virtual void SearchBatch(const float* queries, size_t n, uint32_t k, int threads, int64_t* ids,
                           QueryWork* work) const;
  // The plan the current search point runs for k, as text, when every query of the point runs
  // the same one (our methods: the explicit plan resolved, or the budget planned on the
  // calibration); empty when the method has no such notion (the baselines). The harness
  // measures the points of one build that share a plan once.
  virtual std::string PointPlan(uint32_t /*k*/) const { return {}; }
  // True when the current point asks for a budget (a target recall, an MFLOPs cap) instead of
  // naming a plan: its row stays in the report with the plan it got, even when an earlier
  // budget of the same build got the same plan.
  virtual bool PointIsBudget() const { return false; }
  // The block cache the method reads through (tiered tables), or nullopt: the harness reports the
  // hit ratio of each point's measured queries.
  virtual std::optional<BlockCacheCounters> block_cache_counters() const { return std::nullopt; }

  // Floats per query row; the harness sets it right after Build (the default SearchBatch strides
  // by it), so methods need not.
  void set_query_dim(uint32_t dim) { query_dim_ = dim; }
  uint32_t query_dim() const { return query_dim_; }

 private:
  uint32_t query_dim_ = 0;
};

// Builds are swept over `builds`; every build is searched at every point of `searches`.
struct Grid {
  std::vector<Params> builds;
  std::vector<Params> searches;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;
  // A sensible default sweep for this data (dense for baselines so their frontier is tight).
  virtual Grid DefaultGrid(const BenchData& data) const = 0;
  // Builds over data.base with `threads` threads; fills `stats`.
  virtual absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data,
                                                            const Params& build, int threads,
                                                            BuildStats* stats) const = 0;
};

// Registry of every method by name ("flat", "funnel", "faiss-flat", ...). Each method file
// registers itself with ADANNS_REGISTER_METHOD(ClassName).
using MethodFactory = std::function<std::unique_ptr<Method>()>;
bool RegisterMethod(const std::string& name, MethodFactory factory);
absl::StatusOr<std::unique_ptr<Method>> CreateMethod(const std::string& name);
std::vector<std::string> MethodNames();

#define ADANNS_REGISTER_METHOD(name_string, ClassName)               \
  [[maybe_unused]] static const bool adanns_registered_##ClassName = \
      ::adanns::bench::RegisterMethod(                               \
          name_string, [] { return std::unique_ptr<::adanns::bench::Method>(new ClassName()); })

}  // namespace adanns::bench
