// Reads a whole small text file (key files, PEM certificates).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace adanns {

// NOT_FOUND naming `what` and the path when it cannot be read.
inline absl::StatusOr<std::string> ReadTextFile(const std::string& path, absl::string_view what) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read the ", what, " file ", path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace adanns
