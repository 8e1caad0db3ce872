// A server's Prometheus exposition (its --metrics_listen port, read with curl) and the values of a
// metric's series in it, for the cluster tests that watch what a node or router counted.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/server_process.h"

namespace adanns::testing {

inline std::string ScrapeMetrics(int port) {
  std::string text;
  RunCommand("curl -sf --max-time 5 http://127.0.0.1:" + std::to_string(port) + "/metrics", &text);
  return text;
}

// The values of the series of `name` whose labels contain each of `labels` (e.g. `shard="0"`).
inline std::vector<double> SeriesValues(const std::string& text, const std::string& name,
                                        const std::vector<std::string>& labels = {}) {
  std::vector<double> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    bool matches = true;
    for (const std::string& label : labels) matches = matches && line.find(label) != line.npos;
    if (matches) values.push_back(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return values;
}

inline double SeriesSum(const std::string& text, const std::string& name,
                        const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (double value : SeriesValues(text, name, labels)) sum += value;
  return sum;
}

}  // namespace adanns::testing
