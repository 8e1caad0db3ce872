#include "bench/harness/json_writer.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "client/readers/json_writer.h"

namespace adanns::bench {

void JsonWriter::Key(absl::string_view key) {
  BeginElement();
  absl::StrAppend(&out_, readers::JsonString(key), ": ");
  after_key_ = true;
}

void JsonWriter::String(absl::string_view value) { Raw(readers::JsonString(value)); }

void JsonWriter::Number(double value, int significant_digits) {
  if (!std::isfinite(value)) {
    Null();
    return;
  }
  if (significant_digits <= 0) {
    Raw(readers::JsonNumber(value));
    return;
  }
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.*g", significant_digits, value);
  Raw(buffer);
}

void JsonWriter::Integer(int64_t value) { Raw(absl::StrCat(value)); }

void JsonWriter::Null() { Raw("null"); }

void JsonWriter::Bool(bool value) { Raw(value ? "true" : "false"); }

void JsonWriter::Open(char bracket, bool single_line) {
  BeginElement();
  after_key_ = false;
  out_ += bracket;
  const bool inside_single_line = !stack_.empty() && stack_.back().single_line;
  stack_.push_back({single_line || inside_single_line, true});
}

void JsonWriter::Close(char bracket) {
  const Frame frame = stack_.back();
  stack_.pop_back();
  if (!frame.empty && !frame.single_line) {
    out_ += '\n';
    out_.append(2 * stack_.size(), ' ');
  }
  out_ += bracket;
  if (stack_.empty()) out_ += '\n';
}

void JsonWriter::BeginElement() {
  if (after_key_ || stack_.empty()) return;
  Frame& frame = stack_.back();
  if (!frame.empty) out_ += frame.single_line ? ", " : ",";
  if (!frame.single_line) {
    out_ += '\n';
    out_.append(2 * stack_.size(), ' ');
  }
  frame.empty = false;
}

void JsonWriter::Raw(absl::string_view text) {
  BeginElement();
  after_key_ = false;
  out_.append(text.data(), text.size());
}

}  // namespace adanns::bench
