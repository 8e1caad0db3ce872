#include <limits>
#include <vector>

#include "client/readers/json_writer.h"
#include "gtest/gtest.h"

namespace adanns::readers {
namespace {

TEST(JsonTest, EscapesStrings) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(JsonTest, NumbersRoundTripAndNonFiniteIsNull) {
  EXPECT_EQ(JsonNumber(0.1f), "0.1");
  EXPECT_EQ(JsonNumber(-2.5f), "-2.5");
  EXPECT_EQ(JsonNumber(3.0), "3");
  EXPECT_EQ(JsonNumber(uint64_t{18446744073709551615u}), "18446744073709551615");
  EXPECT_EQ(JsonNumber(std::numeric_limits<float>::infinity()), "null");
  EXPECT_EQ(JsonNumber(std::numeric_limits<double>::quiet_NaN()), "null");
}

TEST(JsonTest, BuildsObjectsAndArrays) {
  const std::vector<float> values = {1.5f, -0.25f};
  const std::vector<uint64_t> empty;
  JsonObject object;
  object.Add("values", JsonArray(values)).Add("ids", JsonArray(empty)).Add("k\"", "1");
  EXPECT_EQ(object.str(), "{\"values\":[1.5,-0.25],\"ids\":[],\"k\\\"\":1}");
  EXPECT_EQ(JsonObject().str(), "{}");
}

}  // namespace
}  // namespace adanns::readers
