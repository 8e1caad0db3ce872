// The huge-page policy of a benchmark run: names, the switch our own allocator follows, and that
// "all" really gives a baseline-style array (allocated and touched without any advice) huge pages.
#include "bench/harness/memory_policy.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "index/huge_pages.h"

namespace adanns::bench {
namespace {

TEST(HugePagePolicyTest, NamesRoundTripAndUnknownOnesAreRefused) {
  for (const char* name : {"all", "none", "ours"}) {
    auto policy = ParseHugePagePolicy(name);
    ASSERT_TRUE(policy.ok()) << name;
    EXPECT_EQ(HugePagePolicyName(*policy), name);
  }
  EXPECT_EQ(ParseHugePagePolicy("some").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PeakRssTest, CoversMemoryTouchedEarlier) {
  constexpr size_t kBytes = 96 << 20;
  {
    std::vector<char> touched(kBytes, 1);
    ASSERT_EQ(touched[kBytes / 2], 1);
  }  // freed: the peak still counts it
  EXPECT_GE(PeakRssBytes(), kBytes);
}

TEST(HugePagePolicyTest, NoneTurnsOffOurOwnAdvice) {
  ApplyHugePageSwitch(HugePagePolicy::kNone);
  EXPECT_FALSE(index::HugePagesWanted().load());
  ApplyHugePageSwitch(HugePagePolicy::kOurs);
  EXPECT_TRUE(index::HugePagesWanted().load());
  ApplyHugePageSwitch(HugePagePolicy::kAll);
  EXPECT_TRUE(index::HugePagesWanted().load());
}

TEST(HugePagePolicyTest, AllCollapsesMemoryNobodyAdvised) {
  if (TransparentHugePageMode() == "never" || TransparentHugePageMode() == "unknown") {
    GTEST_SKIP() << "transparent huge pages are off on this kernel";
  }
  // 64 MiB allocated and touched the way a library would (no advice), as hnswlib's level 0.
  constexpr size_t kBytes = size_t{64} << 20;
  void* data = std::aligned_alloc(index::kHugePageBytes, kBytes);
  ASSERT_NE(data, nullptr);
  std::memset(data, 1, kBytes);
  const uint64_t before = AnonHugePagesBytes();
  const std::string treatment = TreatBuiltMemory(HugePagePolicy::kAll);
  const uint64_t after = AnonHugePagesBytes();
  std::free(data);
  if (treatment != "advised+collapsed")
    GTEST_SKIP() << "this kernel cannot collapse: " << treatment;
  EXPECT_GE(after, before + kBytes / 2) << "AnonHugePages " << before << " -> " << after;
}

}  // namespace
}  // namespace adanns::bench
