// The --grid file: per-method build and search points that replace a method's default sweep.
// Format (bench/README.md): one `<method> build|search key=value ...` line per group of points.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/harness/method.h"

namespace adanns::bench {

// The points a grid file gives one method; an empty list keeps that half of the default grid.
struct GridOverride {
  std::vector<Params> builds;
  std::vector<Params> searches;
};

// Method name -> its points, in file order.
using GridFile = std::map<std::string, GridOverride>;

// Parses grid text. Each non-blank line (after stripping `#` comments) is
//   <method> build|search [key=value ...]
// where a value is a number, a comma list of numbers, or an integer range `a..b` (inclusive);
// a line stands for the cartesian product of its values. INVALID_ARGUMENT as
// "<source>:<line>: <what is wrong>".
absl::StatusOr<GridFile> ParseGridText(absl::string_view text, const std::string& source);

// Reads and parses the file at `path`; NOT_FOUND when it cannot be read.
absl::StatusOr<GridFile> ReadGridFile(const std::string& path);

// `default_grid` with the halves that `override` (may be null) gives replaced.
Grid ApplyGridOverride(Grid default_grid, const GridOverride* override);

}  // namespace adanns::bench
