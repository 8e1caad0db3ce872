// float16.h: the range fp16 rows accept and the value they keep (round to nearest, ties to even,
// as __float2half), checked against hand-computed float16 values.
#include "index/float16.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::index {
namespace {

TEST(Float16Test, RangeStopsAtTheLargestFiniteHalf) {
  const std::vector<float> fits = {0.0f, -65504.0f, 65504.0f, 1e-30f};
  EXPECT_FALSE(FirstOutsideFloat16(fits).has_value());
  const std::vector<float> over = {1.0f, 2.0f, -65505.0f, 70000.0f};
  EXPECT_EQ(FirstOutsideFloat16(over), 2u);
  const std::vector<float> nan = {std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(FirstOutsideFloat16(nan), 0u);
}

TEST(Float16Test, RoundsToNearestTiesToEven) {
  EXPECT_EQ(RoundToFloat16(1.0f), 1.0f);
  EXPECT_EQ(RoundToFloat16(65504.0f), 65504.0f);
  EXPECT_EQ(RoundToFloat16(-3.0f), -3.0f);
  // Between 1 and 1 + 2^-10: below, at and above the half-way point.
  EXPECT_EQ(RoundToFloat16(1.0f + 0x1p-12f), 1.0f);
  EXPECT_EQ(RoundToFloat16(1.0f + 0x1p-11f), 1.0f);  // tie: 1.0 has the even mantissa
  EXPECT_EQ(RoundToFloat16(1.0f + 0x1p-11f + 0x1p-20f), 1.0f + 0x1p-10f);
  EXPECT_EQ(RoundToFloat16(1.0f + 3 * 0x1p-11f), 1.0f + 0x1p-9f);  // tie up to the even one
  // A carry into the exponent.
  EXPECT_EQ(RoundToFloat16(2.0f - 0x1p-12f), 2.0f);
  // Subnormal halves are multiples of 2^-24.
  EXPECT_EQ(RoundToFloat16(0x1p-24f), 0x1p-24f);
  EXPECT_EQ(RoundToFloat16(0x1p-25f), 0.0f);            // tie to even (0)
  EXPECT_EQ(RoundToFloat16(3 * 0x1p-25f), 0x1p-23f);    // tie to even (2 x 2^-24)
  EXPECT_EQ(RoundToFloat16(-5 * 0x1p-26f), -0x1p-24f);  // 1.25 quanta
  EXPECT_EQ(RoundToFloat16(0.1f), 0.0999755859375f);    // the float16 nearest 0.1
}

}  // namespace
}  // namespace adanns::index
