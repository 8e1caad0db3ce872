// The frontier side of calibration (see calibration.h): point sources, plan groups, Pareto
// merges and replacements, the planner's look-ups, and the persisted blob.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/blob_io.h"
#include "base/status_macros.h"
#include "index/calibration.h"
#include "index/flat_search.h"

namespace adanns::index {
namespace {

constexpr char kMagic[8] = {'A', 'D', 'N', 'S', 'C', 'A', 'L', '1'};
// 3: each point carries its query count, source and time; 2: its recall's standard error.
constexpr uint32_t kFormatVersion = 3;
constexpr uint32_t kFormatWithStderr = 2;
constexpr uint32_t kFormatWithoutStderr = 1;

// Plan fields in a fixed order, for the blob.
std::optional<uint32_t> Plan::*const kPlanFields[] = {&Plan::coarse_dims,       &Plan::nprobe,
                                                      &Plan::search_dims,       &Plan::rerank_dims,
                                                      &Plan::rerank_candidates, &Plan::ef};

void AppendString(std::string& out, const std::string& value) {
  AppendPod(out, static_cast<uint32_t>(value.size()));
  out.append(value);
}

bool GetString(BlobReader& reader, std::string* value) {
  uint32_t size = 0;
  std::string_view bytes;
  if (!reader.Get(&size) || !reader.GetBytes(size, &bytes)) return false;
  value->assign(bytes);
  return true;
}

}  // namespace

void SortByCost(std::vector<CalibrationPoint>& points, CostAxis axis) {
  const auto cost = [axis](const CalibrationPoint& point) {
    return axis == CostAxis::kLatency ? point.latency_us : point.mflops;
  };
  std::stable_sort(points.begin(), points.end(),
                   [&cost](const CalibrationPoint& a, const CalibrationPoint& b) {
                     return cost(a) < cost(b) || (cost(a) == cost(b) && a.recall > b.recall);
                   });
}

std::string_view SourceName(CalibrationSource source) {
  switch (source) {
    case CalibrationSource::kSelf:
      return "self";
    case CalibrationSource::kHeldOut:
      return "held_out";
    case CalibrationSource::kGiven:
      return "given";
    case CalibrationSource::kReservoir:
      return "reservoir";
  }
  return "unknown";
}

bool PlanUsesIndex(const Plan& plan, std::string_view index_name) {
  if (plan.index == kIvfCodebookPlan) {
    return index_name == "ivf" || index_name == plan.codebook;
  }
  if (plan.index == kCodebookKind) return index_name == plan.codebook;
  return plan.index != "flat" && plan.index == index_name;
}

std::string PlanGroup(const Plan& plan) {
  return plan.codebook.empty() ? plan.index : absl::StrCat(plan.index, ":", plan.codebook);
}

Calibration MergedFrontier(const Calibration& stored, CostAxis axis) {
  Calibration merged;
  merged.queries = stored.queries;
  for (const Frontier& frontier : stored.frontiers) {
    merged.frontiers.push_back({frontier.k, ParetoFrontier(frontier.points, axis)});
  }
  return merged;
}

Calibration Replaced(const Calibration& stored, const Calibration& measured,
                     const std::function<bool(const Plan&)>& replaced) {
  std::map<uint32_t, std::vector<CalibrationPoint>> by_k;
  for (const Frontier& frontier : stored.frontiers) {
    for (const CalibrationPoint& point : frontier.points) {
      if (!replaced(point.plan)) by_k[frontier.k].push_back(point);
    }
  }
  for (const Frontier& frontier : measured.frontiers) {
    std::vector<CalibrationPoint>& points = by_k[frontier.k];
    points.insert(points.end(), frontier.points.begin(), frontier.points.end());
  }
  Calibration result;
  for (auto& [k, points] : by_k) {
    if (points.empty()) continue;
    for (const CalibrationPoint& point : points) {
      result.queries = std::max(result.queries, point.queries);
    }
    SortByCost(points);
    result.frontiers.push_back({k, std::move(points)});
  }
  return result;
}

std::vector<CalibrationPoint> ParetoFrontier(std::vector<CalibrationPoint> points, CostAxis axis) {
  SortByCost(points, axis);
  std::vector<CalibrationPoint> frontier;
  for (CalibrationPoint& point : points) {
    if (frontier.empty() || point.recall > frontier.back().recall) {
      frontier.push_back(std::move(point));
    }
  }
  return frontier;
}

const CalibrationPoint* CheapestReaching(const Frontier& frontier, double target) {
  for (const CalibrationPoint& point : frontier.points) {
    if (point.recall_lower_bound() >= target) return &point;
  }
  return nullptr;
}

const CalibrationPoint* BestWithin(const Frontier& frontier, double max_mflops) {
  const CalibrationPoint* best = nullptr;
  for (const CalibrationPoint& point : frontier.points) {
    if (point.mflops <= max_mflops) best = &point;
  }
  return best;
}

std::string SerializeCalibration(const Calibration& calibration) {
  std::string out(kMagic, sizeof(kMagic));
  AppendPod(out, kFormatVersion);
  AppendPod(out, calibration.queries);
  AppendPod(out, static_cast<uint32_t>(calibration.frontiers.size()));
  for (const Frontier& frontier : calibration.frontiers) {
    AppendPod(out, frontier.k);
    AppendPod(out, static_cast<uint32_t>(frontier.points.size()));
    for (const CalibrationPoint& point : frontier.points) {
      AppendString(out, point.plan.index);
      AppendString(out, point.plan.codebook);
      for (const auto field : kPlanFields) {
        const std::optional<uint32_t>& value = point.plan.*field;
        AppendPod(out, static_cast<uint8_t>(value.has_value()));
        AppendPod(out, value.value_or(0));
      }
      AppendPod(out, point.recall);
      AppendPod(out, point.recall_stderr);
      AppendPod(out, point.mflops);
      AppendPod(out, point.latency_us);
      AppendPod(out, point.queries);
      AppendPod(out, static_cast<uint8_t>(point.source));
      AppendPod(out, point.measured_unix_seconds);
    }
  }
  SealBlob(out);
  return out;
}

absl::StatusOr<Calibration> DeserializeCalibration(std::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("calibration blob rejected: ", why));
  };
  ASSIGN_OR_RETURN(const std::string_view body, OpenBlob(bytes, kMagic, "calibration"));
  BlobReader reader(body);
  uint32_t version = 0, frontiers = 0;
  Calibration calibration;
  if (!reader.Get(&version) || (version != kFormatVersion && version != kFormatWithStderr &&
                                version != kFormatWithoutStderr)) {
    return corrupt("unknown format version");
  }
  if (!reader.Get(&calibration.queries) || !reader.Get(&frontiers)) return corrupt("truncated");
  for (uint32_t f = 0; f < frontiers; ++f) {
    Frontier frontier;
    uint32_t points = 0;
    if (!reader.Get(&frontier.k) || !reader.Get(&points)) return corrupt("truncated frontier");
    // The planner divides by k and scales plans by it.
    if (frontier.k == 0 || frontier.k > kMaxK) return corrupt("frontier k out of range");
    for (uint32_t p = 0; p < points; ++p) {
      CalibrationPoint point;
      if (!GetString(reader, &point.plan.index) || !GetString(reader, &point.plan.codebook)) {
        return corrupt("truncated plan");
      }
      for (const auto field : kPlanFields) {
        uint8_t has = 0;
        uint32_t value = 0;
        if (!reader.Get(&has) || !reader.Get(&value)) return corrupt("truncated plan");
        if (has != 0) point.plan.*field = value;
      }
      const bool has_stderr = version != kFormatWithoutStderr;
      if (!reader.Get(&point.recall) || (has_stderr && !reader.Get(&point.recall_stderr)) ||
          !reader.Get(&point.mflops) || !reader.Get(&point.latency_us)) {
        return corrupt("truncated point");
      }
      if (!(point.recall >= 0 && point.recall <= 1) || !(point.recall_stderr >= 0) ||
          !std::isfinite(point.recall_stderr) || !(point.mflops >= 0) ||
          !std::isfinite(point.mflops) || !(point.latency_us >= 0) ||
          !std::isfinite(point.latency_us)) {
        return corrupt("point out of range");
      }
      if (!has_stderr) {
        const double r = std::clamp(point.recall, 0.0, 1.0);
        point.recall_stderr = std::sqrt(r * (1 - r) / std::max<uint32_t>(1, calibration.queries));
      }
      point.queries = calibration.queries;  // older blobs: every plan on every query
      if (version == kFormatVersion) {
        uint8_t source = 0;
        if (!reader.Get(&point.queries) || !reader.Get(&source) ||
            !reader.Get(&point.measured_unix_seconds)) {
          return corrupt("truncated point");
        }
        if (source > static_cast<uint8_t>(CalibrationSource::kReservoir)) {
          return corrupt("unknown calibration source");
        }
        point.source = static_cast<CalibrationSource>(source);
      }
      frontier.points.push_back(std::move(point));
    }
    calibration.frontiers.push_back(std::move(frontier));
  }
  if (!reader.done()) return corrupt("trailing bytes");
  return calibration;
}

}  // namespace adanns::index
