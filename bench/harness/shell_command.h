// Running a helper program (git, gnuplot) through the shell and capturing what it prints; the
// harness only shells out for report extras, never on a measured path.
#pragma once

#include <string>

namespace adanns::bench {

struct CommandOutput {
  int exit_status = -1;  // as pclose returns it; 0 = success, -1 = could not start
  std::string output;    // stdout, trailing whitespace removed
};

CommandOutput RunShellCommand(const std::string& command);

// `text` single-quoted for /bin/sh.
std::string ShellQuote(const std::string& text);

}  // namespace adanns::bench
