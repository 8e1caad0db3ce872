// Huge-page treatment by walking /proc/self/maps: every anonymous writable mapping at least one
// huge page long is advised (and collapsed), so no method's arrays are missed for having been
// allocated by a library we do not control (hnswlib's level-0 block, FAISS's vectors).
#include "bench/harness/memory_policy.h"

#include <sys/mman.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/huge_pages.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1
#endif

namespace adanns::bench {
namespace {

constexpr uint64_t kHugePage = index::kHugePageBytes;

// The whole-huge-page interiors of every private anonymous rw mapping, read before any advice
// (advice splits mappings, which would change the file under the reader).
std::vector<std::pair<uint64_t, uint64_t>> AnonymousHugePageRanges() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode, path;
    fields >> range >> perms >> offset >> device >> inode;
    std::getline(fields, path);
    const bool anonymous = inode == "0" && (path.find_first_not_of(' ') == std::string::npos ||
                                            path.find("[heap]") != std::string::npos);
    if (!anonymous || perms.rfind("rw-p", 0) != 0) continue;
    uint64_t begin = 0, end = 0;
    if (std::sscanf(range.c_str(), "%lx-%lx", &begin, &end) != 2) continue;
    const uint64_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const uint64_t last = end & ~(kHugePage - 1);
    if (last > first) ranges.emplace_back(first, last);
  }
  return ranges;
}

// Applies `advice` to every such range (MADV_COLLAPSE one huge page at a time: over a whole
// mapping it fails with EINVAL as soon as one page cannot be collapsed); returns how many calls
// succeeded and how many were made.
std::pair<uint64_t, uint64_t> AdviseAnonymousMappings(int advice) {
  uint64_t succeeded = 0, made = 0;
  for (const auto& [first, last] : AnonymousHugePageRanges()) {
    const uint64_t step = advice == MADV_COLLAPSE ? kHugePage : last - first;
    for (uint64_t at = first; at < last; at += step) {
      ++made;
      if (madvise(reinterpret_cast<void*>(at), step, advice) == 0) ++succeeded;
    }
  }
  return {succeeded, made};
}

}  // namespace

absl::StatusOr<HugePagePolicy> ParseHugePagePolicy(std::string_view name) {
  if (name == "all") return HugePagePolicy::kAll;
  if (name == "none") return HugePagePolicy::kNone;
  if (name == "ours") return HugePagePolicy::kOurs;
  return absl::InvalidArgumentError(
      absl::StrCat("--huge-pages must be all, none or ours, got '", std::string(name), "'"));
}

std::string_view HugePagePolicyName(HugePagePolicy policy) {
  switch (policy) {
    case HugePagePolicy::kAll:
      return "all";
    case HugePagePolicy::kNone:
      return "none";
    case HugePagePolicy::kOurs:
      return "ours";
  }
  return "unknown";
}

void ApplyHugePageSwitch(HugePagePolicy policy) {
  index::HugePagesWanted().store(policy != HugePagePolicy::kNone);
}

std::string TreatBuiltMemory(HugePagePolicy policy) {
  switch (policy) {
    case HugePagePolicy::kAll: {
      AdviseAnonymousMappings(MADV_HUGEPAGE);
      // MADV_COLLAPSE fails on a mapping it cannot fully collapse (memory pressure, a page in
      // use elsewhere); what did collapse shows in AnonHugePages.
      const auto [collapsed, made] = AdviseAnonymousMappings(MADV_COLLAPSE);
      return collapsed > 0 || made == 0 ? "advised+collapsed" : "advised (collapse unsupported)";
    }
    case HugePagePolicy::kNone:
      AdviseAnonymousMappings(MADV_NOHUGEPAGE);
      return "refused";
    case HugePagePolicy::kOurs:
      return "as allocated";
  }
  return "unknown";
}

namespace {

// The "<key> <n> kB" line of a /proc file, in bytes; 0 when absent or unreadable.
uint64_t ProcKilobytes(const char* path, const std::string& key) {
  std::ifstream file(path);
  std::string word;
  uint64_t kilobytes = 0;
  while (file >> word) {
    if (word == key) {
      file >> kilobytes;
      return kilobytes * 1024;
    }
    file.ignore(1 << 12, '\n');
  }
  return 0;
}

}  // namespace

uint64_t AnonHugePagesBytes() { return ProcKilobytes("/proc/self/smaps_rollup", "AnonHugePages:"); }

uint64_t PeakRssBytes() { return ProcKilobytes("/proc/self/status", "VmHWM:"); }

std::string TransparentHugePageMode() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(enabled, line)) return "unknown";
  const size_t open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos) return "unknown";
  return line.substr(open + 1, close - open - 1);
}

}  // namespace adanns::bench
