// A small streaming JSON writer for the harness's reports: nesting and indentation, with
// containers that can be kept on one line (one point per line); values via readers/json_writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace adanns::bench {

// Calls must nest properly (Key before every value inside an object); the writer does not check.
class JsonWriter {
 public:
  // A container opened with `single_line` (or inside one) is written on one line.
  void BeginObject(bool single_line = false) { Open('{', single_line); }
  void EndObject() { Close('}'); }
  void BeginArray(bool single_line = false) { Open('[', single_line); }
  void EndArray() { Close(']'); }

  void Key(absl::string_view key);
  void String(absl::string_view value);
  // NaN and infinities are written as null. `significant_digits` = 0 writes the shortest text
  // that reads back exactly; otherwise printf's %.Ng.
  void Number(double value, int significant_digits = 0);
  void Integer(int64_t value);
  void Null();
  void Bool(bool value);

  // The text so far, ending in a newline once the outermost container is closed.
  const std::string& text() const { return out_; }

 private:
  struct Frame {
    bool single_line = false;
    bool empty = true;
  };

  void Open(char bracket, bool single_line);
  void Close(char bracket);
  // Separator and indentation before a value or key at the current position.
  void BeginElement();
  void Raw(absl::string_view text);

  std::vector<Frame> stack_;
  bool after_key_ = false;
  std::string out_;
};

}  // namespace adanns::bench
