// The reservoir of recent queries: bounded, a uniform sample while young, then following the
// traffic (a query stays about kWindowFactor x capacity offers); wrong-sized queries are ignored.
#include "server/query_reservoir.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace adanns::server {
namespace {

std::vector<float> Held(const QueryReservoir& reservoir) { return reservoir.Queries(); }

TEST(QueryReservoirTest, BoundedUniformThenRecent) {
  QueryReservoir reservoir(100, 1, 42);
  for (int i = 0; i < 1000; ++i) reservoir.Offer(std::vector<float>{float(i)});
  reservoir.Offer(std::vector<float>{1.0f, 2.0f});  // not one dim: ignored
  EXPECT_EQ(reservoir.size(), 100u);
  EXPECT_EQ(reservoir.seen(), 1000u);
  // Uniform over 0..999 so far: the mean of 100 draws is 499.5 give or take 29 (s.d.).
  std::vector<float> held = Held(reservoir);
  double mean = 0;
  for (const float x : held) mean += x;
  mean /= double(held.size());
  EXPECT_NEAR(mean, 499.5, 4 * 29);
  // 100,000 more: every slot is replaced with probability 1/1000 per offer, so none of the first
  // 1000 survives (e^-100 each), and nothing older than the last 20,000 does (e^-20 each).
  for (int i = 0; i < 100000; ++i) reservoir.Offer(std::vector<float>{float(1000 + i)});
  held = Held(reservoir);
  EXPECT_EQ(held.size(), 100u);
  EXPECT_GT(*std::min_element(held.begin(), held.end()), 1000.0f + 100000 - 20000);
}

TEST(QueryReservoirTest, CapacityZeroKeepsNothing) {
  QueryReservoir reservoir(0, 4, 1);
  reservoir.Offer(std::vector<float>(4, 1.0f));
  EXPECT_EQ(reservoir.size(), 0u);
  EXPECT_TRUE(reservoir.Queries().empty());
}

}  // namespace
}  // namespace adanns::server
