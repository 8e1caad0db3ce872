#include "bench/harness/machine_info.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/harness/shell_command.h"

namespace adanns::bench {
namespace {

// The value after "key<spaces>:" on the first /proc/cpuinfo line that starts with `key`.
std::string CpuInfoField(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return "";
}

}  // namespace

std::string CpuModel() {
  std::string model = CpuInfoField("model name");
  return model.empty() ? "unknown" : model;
}

std::vector<std::string> CpuFlags() {
  const std::vector<std::string> reported =
      absl::StrSplit(CpuInfoField("flags"), ' ', absl::SkipEmpty());
  std::vector<std::string> present;
  for (const char* flag : {"avx2", "avx512f", "fma"}) {
    for (const std::string& name : reported) {
      if (name == flag) {
        present.push_back(flag);
        break;
      }
    }
  }
  return present;
}

bool IsCleanCommit(const std::string& commit) {
  return !commit.empty() && commit != "unknown" && !commit.ends_with("-dirty");
}

std::string SourceCommit(const std::string& source_dir) {
  const std::string git = absl::StrCat("git -C ", ShellQuote(source_dir));
  const CommandOutput commit = RunShellCommand(git + " rev-parse --short HEAD 2>/dev/null");
  if (commit.exit_status != 0 || commit.output.empty()) return "unknown";
  const CommandOutput diff = RunShellCommand(git + " diff --quiet HEAD -- 2>/dev/null");
  return diff.exit_status == 0 ? commit.output : commit.output + "-dirty";
}

}  // namespace adanns::bench
