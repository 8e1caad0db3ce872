// Hand-written JSON (the CLI's --json output, bench reports, info.json), so nothing needs a JSON
// library: escaped strings, round-trip numbers, arrays and flat objects.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/strings/string_view.h"

namespace adanns::readers {

// A quoted JSON string; quotes, backslashes and control characters are escaped.
std::string JsonString(absl::string_view text);
// The shortest text that reads back as the same float / double; NaN and infinities (which JSON
// lacks) become null.
std::string JsonNumber(float value);
std::string JsonNumber(double value);
std::string JsonNumber(uint64_t value);

// [1.5,2,...]
std::string JsonArray(std::span<const float> values);
std::string JsonArray(std::span<const double> values);
std::string JsonArray(std::span<const uint64_t> values);

// Builds {"key":value,...} in insertion order.
class JsonObject {
 public:
  // `json` must already be valid JSON (a JsonString, JsonNumber, array or object).
  JsonObject& Add(absl::string_view key, absl::string_view json);
  std::string str() const { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

}  // namespace adanns::readers
