#include "bench/harness/shell_command.h"

#include <cstdio>

#include "absl/strings/ascii.h"

namespace adanns::bench {

CommandOutput RunShellCommand(const std::string& command) {
  CommandOutput result;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) result.output += buffer;
  result.exit_status = pclose(pipe);
  result.output = std::string(absl::StripTrailingAsciiWhitespace(result.output));
  return result;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace adanns::bench
