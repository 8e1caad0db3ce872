// What a collection reports of its indexes and calibration (DescribeCollection), and what a
// calibration is asked to do: plain data, apart from Collection itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "index/calibration.h"

namespace adanns::server {

// What DescribeCollection shows of an index.
struct IndexStatus {
  std::string name;
  std::string kind;   // "flat", "ivf", "hnsw", "opq"
  std::string state;  // "building", "ready", "failed", "cancelled"
  double progress = 0;
  std::string error;
  double build_seconds = 0;
  uint64_t memory_bytes = 0;
  int64_t vectors_added_since_build = 0;
  bool rebuild_advised = false;
  std::vector<std::pair<std::string, double>> params;
};

// What DescribeCollection shows of the calibration.
struct CalibrationStatus {
  std::string state = "none";  // "none", "calibrating", "ready", "failed", "cancelled"
  double progress = 0;
  std::string error;
  double seconds = 0;
  // Of the running or the last calibration: time its steps paused for searches (an automatic
  // one's core share, kAutoCalibrationCoreShare).
  double paused_seconds = 0;
  std::shared_ptr<const index::Calibration> frontier;  // the one in use; null before the first
  std::string source;      // the frontier's point sources, distinct, joined by "+"
  double age_seconds = 0;  // of its oldest point
  size_t reservoir_queries = 0;
  std::string recalibration_reason;  // "" = none due
};

// Where a calibration's queries come from (without query_vectors).
enum class CalibrationQueries {
  kAuto,       // the reservoir once it holds kMinReservoirQueries, else sampled stored vectors
               // with keep_index_points (indexes keep their held-out build calibration)
  kSampled,    // every plan on sampled stored vectors (index plans read optimistic)
  kReservoir,  // every plan on the reservoir; FAILED_PRECONDITION below kMinReservoirQueries
};
inline constexpr size_t kMinReservoirQueries = 100;

struct CalibrationRequest {
  uint32_t queries = 0;              // queries per plan; 0 = CollectionOptions'
  std::vector<float> query_vectors;  // or these (n x dim)
  CalibrationQueries source = CalibrationQueries::kSampled;
  std::vector<uint32_t> ks;  // empty = 1, 10, 100 (those below the collection's size)
  uint64_t seed = 0;         // 0 = 1234
  // Indexes that have points keep them (from their held-out build calibration): the flat plans
  // and any index without points are measured.
  bool keep_index_points = false;
  std::string reason;      // why it runs, for the log
  bool automatic = false;  // the searches started it (drift or growth): runs below them
};

}  // namespace adanns::server
