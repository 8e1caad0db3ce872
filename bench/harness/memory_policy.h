// The memory policy every method of a run gets: transparent huge pages for all of them (the
// default: each method's large arrays advised and collapsed after its build), for none, or only
// for ours (the old asymmetric mode, kept to show the effect). Recorded in the report's meta.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace adanns::bench {

enum class HugePagePolicy { kAll, kNone, kOurs };

// "all", "none", "ours"; INVALID_ARGUMENT otherwise.
absl::StatusOr<HugePagePolicy> ParseHugePagePolicy(std::string_view name);
std::string_view HugePagePolicyName(HugePagePolicy policy);

// Sets the process-wide switch our own allocator and graph advice follow (index/huge_pages.h):
// on for kAll and kOurs, off (MADV_NOHUGEPAGE) for kNone. Call before any build.
void ApplyHugePageSwitch(HugePagePolicy policy);

// After a method's build: under kAll every writable anonymous region of the process (the
// method's arrays among them, whoever allocated them) is advised MADV_HUGEPAGE and collapsed now
// with MADV_COLLAPSE; under kNone advised MADV_NOHUGEPAGE; under kOurs left as the method made it.
// Returns what was done, for the report ("advised+collapsed", "advised (collapse unsupported)",
// "refused", "as allocated" under kOurs).
std::string TreatBuiltMemory(HugePagePolicy policy);

// AnonHugePages of this process (/proc/self/smaps_rollup), in bytes; 0 when unreadable.
uint64_t AnonHugePagesBytes();

// The process's peak resident set (VmHWM of /proc/self/status), in bytes; 0 when unreadable.
uint64_t PeakRssBytes();

// The kernel's THP mode ("always", "madvise" or "never"; "unknown" when unreadable).
std::string TransparentHugePageMode();

}  // namespace adanns::bench
