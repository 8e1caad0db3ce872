// Has the traffic moved away from what the calibration measured? A cheap sketch of where a query
// falls in the data: its distance to the nearest of a few anchor rows (stored vectors sampled when
// the calibration ran), on a short prefix. The calibration's queries give a reference mean of that
// distance; when the mean over the reservoir of recent search queries differs from it by more
// than kDriftZ standard errors (Welch's two-sample z) and by more than kDriftRelative of the
// reference, the queries have drifted and the frontier is due for a new calibration. Growth by
// kGrowthFraction of the rows calibrated is the other trigger.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metric.h"
#include "index/vector_table.h"

namespace adanns::index {

inline constexpr uint32_t kDriftAnchors = 16;
inline constexpr uint32_t kDriftPrefix = 64;
// A z of 4 keeps false alarms rare (two-sided p < 1e-4 per check) with checks every few thousand
// searches; the relative floor keeps a large reservoir from flagging shifts too small to move a
// recall estimate.
inline constexpr double kDriftZ = 4.0;
inline constexpr double kDriftRelative = 0.10;
inline constexpr double kGrowthFraction = 0.20;

struct DriftReference {
  uint32_t prefix = 0;  // dims compared: min(kDriftPrefix, the resident prefix)
  Metric metric = Metric::kL2;
  std::vector<float> anchors;  // kDriftAnchors (or fewer) x prefix
  double mean = 0, sd = 0;     // nearest-anchor distance over the calibration's queries
  uint32_t queries = 0;
  uint64_t vectors = 0;  // live rows when the calibration ran

  // Distance from `query` (at least `prefix` floats) to its nearest anchor.
  double NearestAnchor(std::span<const float> query) const;
};

// Anchors sampled from `table` (seeded), the reference over `queries` (n x table.dim()).
DriftReference MakeDriftReference(const VectorTable& table, Metric metric,
                                  std::span<const float> queries, uint64_t seed);

// Why the frontier is due for a new calibration, or nullopt: the collection grew by
// kGrowthFraction since, or `recent` (NearestAnchor of recent queries) drifted.
std::optional<std::string> RecalibrationReason(const DriftReference& reference, uint64_t vectors,
                                               std::span<const double> recent);

std::string SerializeDriftReference(const DriftReference& reference);
absl::StatusOr<DriftReference> DeserializeDriftReference(std::string_view bytes);

}  // namespace adanns::index
