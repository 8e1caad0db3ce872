// The shard of an id, the placement of shards on nodes, the etcd key layout and record parsing.
#include "cluster/shard_map.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ShardOfIdTest, IdHashIsSplitmix64sOutputFunction) {
  // splitmix64 from state 0 (Steele, Lea & Flood's reference generator) outputs these two values
  // first; IdHash(x) is its output from state x, so it must reproduce them for x = 0 and x = the
  // golden-ratio increment. They pin the routing of every stored id.
  EXPECT_EQ(IdHash(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(IdHash(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
}

TEST(ShardOfIdTest, SpreadsSequentialIdsEvenly) {
  constexpr uint32_t kShards = 4;
  constexpr uint64_t kIds = 100000;
  std::map<uint32_t, uint64_t> counts;
  for (uint64_t id = 0; id < kIds; ++id) ++counts[ShardOfId(id, kShards)];
  ASSERT_EQ(counts.size(), kShards);
  for (const auto& [shard, count] : counts) {
    EXPECT_NEAR(static_cast<double>(count) / kIds, 1.0 / kShards, 0.01) << "shard " << shard;
  }
  for (uint64_t id : {0ULL, 1ULL, ~0ULL}) EXPECT_EQ(ShardOfId(id, 1), 0u);
}

TEST(PlaceShardsTest, IsDeterministicEvenAndIndependentOfListingOrder) {
  auto placed = PlaceShards("docs", 6, {"n3", "n1", "n2"});
  ASSERT_TRUE(placed.ok());
  auto again = PlaceShards("docs", 6, {"n2", "n3", "n1", "n2"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*placed, *again);
  std::map<std::string, int> per_node;
  for (const std::string& node : *placed) ++per_node[node];
  EXPECT_THAT(per_node, ElementsAre(std::pair<const std::string, int>("n1", 2),
                                    std::pair<const std::string, int>("n2", 2),
                                    std::pair<const std::string, int>("n3", 2)));
  // More shards than nodes: every node gets shards, round robin.
  auto many = PlaceShards("docs", 4, {"a"});
  ASSERT_TRUE(many.ok());
  EXPECT_THAT(*many, ElementsAre("a", "a", "a", "a"));
}

TEST(PlaceShardsTest, CollectionsStartOnDifferentNodes) {
  std::set<std::string> first_nodes;
  for (int c = 0; c < 20; ++c) {
    auto placed = PlaceShards("collection" + std::to_string(c), 1, {"n1", "n2", "n3"});
    ASSERT_TRUE(placed.ok());
    first_nodes.insert(placed->front());
  }
  EXPECT_EQ(first_nodes.size(), 3u);
}

TEST(PlaceShardsTest, NoLiveNodeIsAFailedPrecondition) {
  absl::Status status = PlaceShards("docs", 4, {}).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no live data node"));
}

TEST(ClusterKeysTest, LaysOutKeysUnderTheClusterName) {
  auto keys = ClusterKeys::Create("prod-1");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->Node("127.0.0.1:7000"), "/prod-1/nodes/127.0.0.1:7000");
  EXPECT_EQ(keys->NodesPrefix(), "/prod-1/nodes/");
  EXPECT_EQ(keys->Collection("docs"), "/prod-1/collections/docs");
  for (const char* bad : {"", "a/b", "a b", "x\n"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ClusterKeys::Create(bad).status())) << bad;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ClusterKeys::Create(std::string(65, 'a')).status()));
}

TEST(ShardMapRecordTest, RoundTripsAndRejectsBrokenRecords) {
  adanns::v1::CreateCollectionRequest spec;
  spec.set_name("docs");
  spec.set_dim(8);
  const adanns::v1::ShardMapRecord record = MakeShardMap(spec, {{"n1"}, {"n2"}});
  auto parsed = ParseShardMap("/c/collections/docs", record.SerializeAsString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->spec().name(), "docs");
  ASSERT_EQ(parsed->shards_size(), 2);
  EXPECT_EQ(parsed->shards(1).node_id(), "n2");

  EXPECT_TRUE(absl::IsInternal(ParseShardMap("k", "\xff\xff garbage").status()));
  EXPECT_TRUE(
      absl::IsInternal(ParseShardMap("k", MakeShardMap(spec, {}).SerializeAsString()).status()));
  adanns::v1::ShardMapRecord out_of_order = record;
  out_of_order.mutable_shards(0)->set_shard(1);
  absl::Status status = ParseShardMap("k", out_of_order.SerializeAsString()).status();
  EXPECT_TRUE(absl::IsInternal(status));
  EXPECT_THAT(std::string(status.message()), HasSubstr("out of order"));
}

}  // namespace
}  // namespace adanns::cluster
