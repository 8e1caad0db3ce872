// The recall/QPS plot of a run: gnuplot draws recall@k (x) against QPS (log y), one curve per
// method through its Pareto points, dominated points as faint marks.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/harness/report.h"

namespace adanns::bench {

// The gnuplot script for `methods` whose data files are `<data_dir>/<i>.dat` (block 0: Pareto
// points, block 1: all points), drawn with `terminal` ("pngcairo" or "png") into `png_path`.
std::string PlotScript(const RunMeta& meta, const std::vector<std::string>& methods,
                       const std::string& data_dir, const std::string& terminal,
                       const std::string& png_path);

// Writes the script and data to a temporary folder, runs gnuplot and removes the folder.
// FAILED_PRECONDITION when gnuplot is not installed; INTERNAL when it fails.
absl::Status WritePlot(const RunMeta& meta, const std::vector<PointResult>& points,
                       const std::string& png_path);

}  // namespace adanns::bench
