// Distance keys: integer order is float order, every NaN ranks after +inf and before the empty
// slot (a canonical CUDA NaN used to become the empty key, a sign-flipped one used to rank first),
// and RanksBefore breaks equal keys by row.
#include "index/cuda/distance_key.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::index::cuda {
namespace {

float FromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(DistanceKeyTest, IntegerOrderIsFloatOrder) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> ascending = {-inf,   -1e30f, -2.5f, -1e-40f, -0.0f,
                                        1e-40f, 1e-7f,  1.0f,  3e38f,   inf};
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    EXPECT_LE(DistanceKey(ascending[i]), DistanceKey(ascending[i + 1])) << ascending[i];
    if (ascending[i] != ascending[i + 1]) {
      EXPECT_LT(DistanceKey(ascending[i]), DistanceKey(ascending[i + 1])) << ascending[i];
    }
    EXPECT_EQ(KeyDistance(DistanceKey(ascending[i])), ascending[i]);
  }
  EXPECT_LT(DistanceKey(inf), kNanKey);
}

TEST(DistanceKeyTest, EveryNanRanksLastButIsNeverEmpty) {
  // CUDA's canonical NaN, the same with the sign flipped (a negated similarity), quiet and
  // signalling payloads.
  for (const uint32_t bits : {0x7FFFFFFFu, 0xFFFFFFFFu, 0x7FC00000u, 0xFFC00000u, 0x7F800001u}) {
    const float nan = FromBits(bits);
    ASSERT_TRUE(std::isnan(nan));
    EXPECT_EQ(DistanceKey(nan), kNanKey) << std::hex << bits;
    EXPECT_NE(DistanceKey(nan), kEmptyKey);
    EXPECT_GT(DistanceKey(nan), DistanceKey(std::numeric_limits<float>::infinity()));
  }
  EXPECT_TRUE(std::isnan(KeyDistance(kNanKey)));
}

TEST(DistanceKeyTest, EqualKeysRankByRow) {
  const uint32_t key = DistanceKey(0.5f);
  EXPECT_TRUE(RanksBefore(key, 3, key, 7));
  EXPECT_FALSE(RanksBefore(key, 7, key, 3));
  EXPECT_FALSE(RanksBefore(key, 3, key, 3));
  EXPECT_TRUE(RanksBefore(DistanceKey(0.25f), 9, key, 1));
  // Nothing a scan offers ranks after the initial threshold (empty key, no row).
  EXPECT_TRUE(RanksBefore(kNanKey, 0xFFFFFFF0u, kEmptyKey, kNoRow));
}

}  // namespace
}  // namespace adanns::index::cuda
