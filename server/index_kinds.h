// The index kinds a collection serves ("ivf", "hnsw"): how a build request is checked, run,
// recorded (to restart it after a crash) and how a stored index is loaded. Collection stays
// kind-agnostic; adding a kind means adding it here.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "index/metric.h"
#include "index/served_index.h"
#include "index/vector_table.h"

namespace adanns::server {

inline constexpr char kIvfIndexName[] = "ivf";
inline constexpr char kHnswIndexName[] = "hnsw";
// Every kind, in the order the automatic plan prefers them when ready.
inline constexpr std::array<const char*, 2> kIndexKinds = {kHnswIndexName, kIvfIndexName};

// A validated request to build one index kind.
struct BuildRequest {
  std::string kind;            // one of kIndexKinds
  std::string encoded_params;  // kept while the build runs, to restart it after a crash
  // Checked against the collection before the build starts (so the request fails, not the build).
  std::function<absl::Status(uint32_t dim, size_t vectors)> check;
  // Runs the build with at most `threads` threads.
  std::function<absl::StatusOr<std::unique_ptr<index::ServedIndex>>(
      const index::TableAccess& access, int threads, const index::Progress& progress,
      const std::atomic<bool>* cancel)>
      build;
};

BuildRequest MakeIvfBuild(const index::IvfBuildParams& params, Metric metric);
BuildRequest MakeHnswBuild(const index::HnswBuildParams& params, Metric metric);
// The request `encoded_params` of `kind` was made from (DATA_LOSS when it cannot be decoded).
absl::StatusOr<BuildRequest> DecodeBuild(std::string_view kind, std::string_view encoded_params,
                                         Metric metric);

// Restores a stored index of `kind` over `table` (see each kind's Deserialize).
absl::StatusOr<std::unique_ptr<index::ServedIndex>> LoadIndex(std::string_view kind,
                                                              std::string_view bytes,
                                                              const index::VectorTable& table,
                                                              Metric metric);

}  // namespace adanns::server
