// The index kinds a collection serves ("ivf", "hnsw", and "opq" codebooks, several per collection,
// each named after its spec): how a build request is checked, run, recorded (to restart it after
// a crash) and how a stored index is loaded. Collection stays kind-agnostic; adding a kind means
// adding it here.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/held_out.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "index/served_index.h"
#include "index/vector_table.h"
#include "quant/opq_index.h"

namespace adanns::server {

inline constexpr char kIvfIndexName[] = "ivf";
inline constexpr char kHnswIndexName[] = "hnsw";
inline constexpr char kOpqIndexKind[] = "opq";  // named "opq<prefix_dims>x<M>"

// The kind of the index named `name`, or nullopt for a name no kind uses.
std::optional<std::string> KindOfIndexName(std::string_view name);

// A validated request to build one index.
struct BuildRequest {
  std::string kind;            // "ivf", "hnsw" or "opq"
  std::string name;            // what it is served, stored and dropped under
  std::string encoded_params;  // kept while the build runs, to restart it after a crash
  // Checked against the collection before the build starts (so the request fails, not the build).
  // Prefixes must fit the table's resident prefix (resident_dims; dim when not tiered).
  std::function<absl::Status(uint32_t dim, uint32_t resident_dims, size_t vectors)> check;
  // Runs the build with at most `threads` threads, leaving the held-out rows out.
  std::function<absl::StatusOr<std::unique_ptr<index::ServedIndex>>(
      const index::TableAccess& access, int threads, const index::Progress& progress,
      const std::atomic<bool>* cancel, const index::HeldOutRows& held_out)>
      build;
};

BuildRequest MakeIvfBuild(const index::IvfBuildParams& params, Metric metric);
BuildRequest MakeHnswBuild(const index::HnswBuildParams& params, Metric metric);
BuildRequest MakeOpqBuild(const quant::OpqBuildParams& params, Metric metric);
// BuildIndex with no kind: the default graph (index/default_graph.h) on a `params.graph_dims`
// prefix, or a full-dim one where the prefix does not pay; served as "hnsw".
BuildRequest MakeDefaultGraphBuild(const index::HnswBuildParams& params, Metric metric);
// The request `encoded_params` of `kind` was made from (DATA_LOSS when it cannot be decoded).
absl::StatusOr<BuildRequest> DecodeBuild(std::string_view kind, std::string_view encoded_params,
                                         Metric metric);

// Restores a stored index of `kind` over `table` (see each kind's Deserialize).
absl::StatusOr<std::unique_ptr<index::ServedIndex>> LoadIndex(std::string_view kind,
                                                              std::string_view bytes,
                                                              const index::VectorTable& table,
                                                              Metric metric);

}  // namespace adanns::server
