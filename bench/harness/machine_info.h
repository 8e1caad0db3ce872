// Facts about the machine and the source tree that a benchmark report records next to its
// numbers: CPU model and SIMD flags, and the git commit of the code that ran.
#pragma once

#include <string>
#include <vector>

namespace adanns::bench {

// "model name" of the first processor in /proc/cpuinfo; "unknown" when unreadable.
std::string CpuModel();

// Which of avx2, avx512f, fma the CPU reports, in that order.
std::vector<std::string> CpuFlags();

// Whether a SourceCommit answer names a commit whose tracked files were unchanged.
bool IsCleanCommit(const std::string& commit);

// `git rev-parse --short HEAD` of `source_dir`, with "-dirty" when tracked files differ from it;
// "unknown" when git or the checkout is missing.
std::string SourceCommit(const std::string& source_dir);

}  // namespace adanns::bench
