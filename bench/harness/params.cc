#include "bench/harness/params.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace adanns::bench {

absl::Status CheckParamKeys(const Params& params, std::initializer_list<const char*> known,
                            const std::string& what) {
  for (const auto& [key, value] : params) {
    bool found = false;
    for (const char* name : known) found = found || key == name;
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": unknown parameter '", key,
          "' (known: ", known.size() == 0 ? std::string("none") : absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> UintParam(const Params& params, const std::string& key, uint32_t fallback,
                                   uint32_t min_value, uint32_t max_value) {
  const auto it = params.find(key);
  if (it == params.end()) return fallback;
  const double value = it->second;
  if (!(value >= min_value && value <= max_value) || std::floor(value) != value) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", key, " must be a whole number in ",
                                                   min_value, "..", max_value, ", got ",
                                                   FormatNumber(value)));
  }
  return static_cast<uint32_t>(value);
}

std::string FormatParams(const Params& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", FormatNumber(value));
  }
  return out;
}

std::string FormatNumber(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

uint32_t DefaultIvfNlist(uint64_t vectors) {
  const double target = std::max(1.0, 4.0 * std::sqrt(static_cast<double>(vectors)));
  const double power = std::exp2(std::round(std::log2(target)));
  return static_cast<uint32_t>(std::clamp<double>(power, 1.0, static_cast<double>(vectors)));
}

}  // namespace adanns::bench
