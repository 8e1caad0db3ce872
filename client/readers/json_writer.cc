#include "client/readers/json_writer.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace adanns::readers {
namespace {

template <typename T>
std::string ShortestNumber(T value) {
  if (!std::isfinite(value)) {
    return "null";
  }
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

template <typename T>
std::string JsonArrayOf(std::span<const T> values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += JsonNumber(values[i]);
  }
  return out + "]";
}

}  // namespace

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;  // UTF-8 passes through unchanged
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(float value) { return ShortestNumber(value); }
std::string JsonNumber(double value) { return ShortestNumber(value); }
std::string JsonNumber(uint64_t value) { return absl::StrCat(value); }

std::string JsonArray(std::span<const float> values) { return JsonArrayOf(values); }
std::string JsonArray(std::span<const double> values) { return JsonArrayOf(values); }
std::string JsonArray(std::span<const uint64_t> values) { return JsonArrayOf(values); }

JsonObject& JsonObject::Add(absl::string_view key, absl::string_view json) {
  if (text_.size() > 1) {
    text_ += ',';
  }
  absl::StrAppend(&text_, JsonString(key), ":", json);
  return *this;
}

}  // namespace adanns::readers
