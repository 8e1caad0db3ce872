#include "bench/harness/grid_file.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace adanns::bench {
namespace {

// Guards against a typo like 1..100000000 filling memory.
constexpr size_t kMaxPointsPerLine = 100000;

absl::StatusOr<double> ParseNumber(absl::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (text.empty() || result.ec != std::errc() || result.ptr != end || !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a number"));
  }
  return value;
}

// The values of one `key=...`: a number, a comma list, or an integer range a..b.
absl::StatusOr<std::vector<double>> ParseValues(absl::string_view text) {
  std::vector<double> values;
  if (const size_t dots = text.find(".."); dots != absl::string_view::npos) {
    auto first = ParseNumber(text.substr(0, dots));
    auto last = ParseNumber(text.substr(dots + 2));
    if (!first.ok() || !last.ok() || std::floor(*first) != *first || std::floor(*last) != *last) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an integer range a..b"));
    }
    if (*last < *first || *last - *first >= kMaxPointsPerLine) {
      return absl::InvalidArgumentError(absl::StrCat("range '", text, "' is empty or longer than ",
                                                     kMaxPointsPerLine, " values"));
    }
    for (double v = *first; v <= *last; ++v) values.push_back(v);
    return values;
  }
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    auto value = ParseNumber(item);
    if (!value.ok()) return value.status();
    values.push_back(*value);
  }
  return values;
}

// Every combination of the keys' values, keys in order.
std::vector<Params> CartesianProduct(
    const std::vector<std::pair<std::string, std::vector<double>>>& keys) {
  std::vector<Params> points(1);
  for (const auto& [key, values] : keys) {
    std::vector<Params> next;
    next.reserve(points.size() * values.size());
    for (const Params& point : points) {
      for (const double value : values) {
        next.push_back(point);
        next.back()[key] = value;
      }
    }
    points = std::move(next);
  }
  return points;
}

absl::Status ParseLine(absl::string_view line, GridFile& grid) {
  std::vector<absl::string_view> tokens = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (tokens.size() < 2) {
    return absl::InvalidArgumentError("expected '<method> build|search [key=value ...]'");
  }
  GridOverride& entry = grid[std::string(tokens[0])];
  std::vector<Params>* target = nullptr;
  if (tokens[1] == "build") {
    target = &entry.builds;
  } else if (tokens[1] == "search") {
    target = &entry.searches;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown kind '", tokens[1], "' (expected build or search)"));
  }
  std::vector<std::pair<std::string, std::vector<double>>> keys;
  size_t points = 1;
  for (size_t i = 2; i < tokens.size(); ++i) {
    const size_t equals = tokens[i].find('=');
    if (equals == absl::string_view::npos || equals == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", tokens[i], "' is not key=value"));
    }
    std::string key(tokens[i].substr(0, equals));
    for (const auto& [seen, values] : keys) {
      if (seen == key) return absl::InvalidArgumentError(absl::StrCat("key '", key, "' repeated"));
    }
    auto values = ParseValues(tokens[i].substr(equals + 1));
    if (!values.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": ", values.status().message()));
    }
    points *= values->size();
    if (points > kMaxPointsPerLine) {
      return absl::InvalidArgumentError(
          absl::StrCat("the line expands to more than ", kMaxPointsPerLine, " points"));
    }
    keys.emplace_back(std::move(key), *std::move(values));
  }
  for (Params& point : CartesianProduct(keys)) target->push_back(std::move(point));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GridFile> ParseGridText(absl::string_view text, const std::string& source) {
  GridFile grid;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::string cleaned(line);
    for (char& c : cleaned) {
      if (c == '\t' || c == '\r') c = ' ';
    }
    if (absl::StripAsciiWhitespace(cleaned).empty()) continue;
    if (absl::Status status = ParseLine(cleaned, grid); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": ", status.message()));
    }
  }
  return grid;
}

absl::StatusOr<GridFile> ReadGridFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read grid file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseGridText(text.str(), path);
}

Grid ApplyGridOverride(Grid default_grid, const GridOverride* override) {
  if (override != nullptr) {
    if (!override->builds.empty()) default_grid.builds = override->builds;
    if (!override->searches.empty()) default_grid.searches = override->searches;
  }
  return default_grid;
}

}  // namespace adanns::bench
