#include "bench/harness/frontier.h"

#include <algorithm>
#include <cmath>

namespace adanns::bench {

std::vector<RecallQps> ParetoFrontier(const std::vector<RecallQps>& points) {
  std::vector<RecallQps> sorted;
  for (const RecallQps& point : points) {
    if (std::isfinite(point.recall) && std::isfinite(point.qps) && point.qps > 0) {
      sorted.push_back(point);
    }
  }
  // Highest recall first, and the fastest first among equal recalls: a point joins the frontier
  // when it is faster than everything at a higher or equal recall.
  std::sort(sorted.begin(), sorted.end(), [](const RecallQps& a, const RecallQps& b) {
    return a.recall != b.recall ? a.recall > b.recall : a.qps > b.qps;
  });
  std::vector<RecallQps> frontier;
  for (const RecallQps& point : sorted) {
    if (frontier.empty() || point.qps > frontier.back().qps) frontier.push_back(point);
  }
  std::reverse(frontier.begin(), frontier.end());
  return frontier;
}

FrontierQps QpsOnFrontier(const std::vector<RecallQps>& frontier, double recall) {
  if (frontier.empty() || !std::isfinite(recall) || recall > frontier.back().recall) {
    return {Coverage::kAboveFrontier, 0};
  }
  if (recall < frontier.front().recall) return {Coverage::kBelowFrontier, frontier.front().qps};
  // First point with recall >= the target; its predecessor (if any) has a lower recall.
  const auto upper =
      std::lower_bound(frontier.begin(), frontier.end(), recall,
                       [](const RecallQps& point, double target) { return point.recall < target; });
  if (upper->recall == recall || upper == frontier.begin()) {
    return {Coverage::kInterpolated, upper->qps};
  }
  const RecallQps& lower = *(upper - 1);
  const double t = (recall - lower.recall) / (upper->recall - lower.recall);
  const double log_qps = std::log(lower.qps) + t * (std::log(upper->qps) - std::log(lower.qps));
  return {Coverage::kInterpolated, std::exp(log_qps)};
}

std::optional<double> BestQpsAtRecall(const std::vector<RecallQps>& points, double recall) {
  std::optional<double> best;
  for (const RecallQps& point : points) {
    if (point.recall >= recall && std::isfinite(point.qps) && (!best || point.qps > *best)) {
      best = point.qps;
    }
  }
  return best;
}

}  // namespace adanns::bench
