// Pareto frontiers of (recall, QPS) points and the QPS a method reaches at a given recall:
// interpolated on a baseline's frontier, or measured for ours.
#pragma once

#include <optional>
#include <vector>

namespace adanns::bench {

struct RecallQps {
  double recall = 0;
  double qps = 0;
};

// The points no other point beats on both recall and QPS, by ascending recall (QPS then strictly
// decreases). Points with a non-finite or non-positive QPS, or a non-finite recall, are dropped.
std::vector<RecallQps> ParetoFrontier(const std::vector<RecallQps>& points);

// Where a recall falls relative to a frontier.
enum class Coverage {
  kInterpolated,   // within [lowest, highest] frontier recall: log QPS linear in recall
  kBelowFrontier,  // lower than every frontier point: the lowest-recall point's QPS, a lower
                   // bound on what the method could do at that recall
  kAboveFrontier,  // higher than every frontier point (or no points): no figure
};

struct FrontierQps {
  Coverage coverage = Coverage::kAboveFrontier;
  double qps = 0;  // meaningful unless kAboveFrontier
};

// A baseline's QPS at `recall` on its frontier (from ParetoFrontier): log QPS linear in recall
// between the two neighbouring points.
FrontierQps QpsOnFrontier(const std::vector<RecallQps>& frontier, double recall);

// Our figure: the best measured QPS among points with recall >= `recall`; nullopt when none.
std::optional<double> BestQpsAtRecall(const std::vector<RecallQps>& points, double recall);

}  // namespace adanns::bench
