// MoveShard (router_moves.cc) on a real etcd, three real data node processes and a router: a copy
// of a shard moves to another node while a writer streams upserts through the router; every
// acknowledged write is readable afterwards with identical bytes, the copies that remain agree,
// the old node no longer holds the shard, and a repeated call answers already_done. Bad requests
// get precise statuses; the CLI's `cluster move-shard` drives the same RPC.
//
// Timing on two loaded cores: leases of 3 s, follower ack deadline 1.5 s (replication_test.cc).
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "adanns/v1/cluster.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/docs_collection.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/shard_copies.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kShards = 2;
// Ids the writer streams while a shard moves start here (the preloaded ones are below).
constexpr uint64_t kLiveIdsFrom = 10000;

class ShardMoveTest : public ThreeDataNodesTest {
 protected:
  // "docs" with kShards shards of `replicas` copies, holding ids 0..kVectors-1.
  void CreateDocs(uint32_t replicas) {
    CreateReplicatedDocs(kShards, replicas);
    const grpc::Status written = UpsertStream(*routed_, {Message(0, kVectors)});
    ASSERT_TRUE(written.ok()) << written.error_message();
  }

  v1::ShardInfo DescribeShard(uint32_t shard) {
    const v1::CollectionInfo info = Describe();
    return info.shards_size() > static_cast<int>(shard) ? info.shards(static_cast<int>(shard))
                                                        : v1::ShardInfo();
  }
  // The copies of `shard` (its node alone when unreplicated).
  std::vector<std::string> CopiesOf(const v1::ShardInfo& shard) {
    if (shard.replicas_size() == 0) return {shard.node_id()};
    return {shard.replicas().begin(), shard.replicas().end()};
  }

  // A data node holding no copy of `shard`.
  std::string NodeWithout(const v1::ShardInfo& shard) {
    const std::vector<std::string> copies = CopiesOf(shard);
    for (const auto& node : nodes_) {
      if (std::find(copies.begin(), copies.end(), node->target()) == copies.end()) {
        return node->target();
      }
    }
    return "";
  }

  grpc::Status Move(const std::string& from, const std::string& to, uint32_t shard,
                    v1::MoveShardResponse* response, const std::string& collection = "docs") {
    v1::MoveShardRequest request;
    request.set_collection(collection);
    request.set_shard(shard);
    request.set_from_node(from);
    request.set_to_node(to);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return routed_->MoveShard(&context, request, response);
  }

  // Streams one-message upserts of fresh ids through the router until `stop`, retrying a message
  // that failed (a primary handoff answers UNAVAILABLE); *acknowledged gets each acked id.
  void WriteUntil(const std::atomic<bool>& stop, std::set<uint64_t>* acknowledged) {
    uint64_t next = kLiveIdsFrom;
    for (int attempts = 0; !stop.load() && attempts < 5000; ++attempts) {
      if (UpsertStream(*routed_, {Message(next, next + 5)}, std::chrono::seconds(5)).ok()) {
        for (uint64_t id = next; id < next + 5; ++id) acknowledged->insert(id);
        next += 5;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // Every id in `expected` reads back through the router with the bytes Row(id) gives.
  void ExpectReadable(const std::set<uint64_t>& expected) {
    const std::vector<uint64_t> ids(expected.begin(), expected.end());
    std::map<uint64_t, std::vector<float>> found;
    ASSERT_TRUE(GetVectors(*routed_, "docs", ids, &found));
    EXPECT_EQ(found.size(), expected.size());
    for (uint64_t id : ids) {
      auto it = found.find(id);
      ASSERT_NE(it, found.end()) << "acknowledged id " << id << " lost";
      EXPECT_EQ(it->second, Row(id)) << "id " << id;
    }
  }

  // Moves `shard`'s copy on `from` to a node without one while a writer runs; checks the result.
  void MoveUnderLoad(uint32_t shard, const std::string& from) {
    const v1::ShardInfo before = DescribeShard(shard);
    const std::string to = NodeWithout(before);
    ASSERT_FALSE(to.empty());
    std::atomic<bool> stop{false};
    std::set<uint64_t> acknowledged;
    std::thread writer([&] { WriteUntil(stop, &acknowledged); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    v1::MoveShardResponse moved;
    const grpc::Status status = Move(from, to, shard, &moved);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // writes after the move
    stop.store(true);
    writer.join();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(moved.already_done());
    EXPECT_TRUE(moved.old_copy_dropped());
    std::vector<std::string> expected_copies = CopiesOf(before);
    std::replace(expected_copies.begin(), expected_copies.end(), from, to);
    EXPECT_THAT(std::vector<std::string>(moved.replicas().begin(), moved.replicas().end()),
                ::testing::UnorderedElementsAreArray(expected_copies));
    EXPECT_THAT(moved.in_sync(), ::testing::Contains(to));
    EXPECT_THAT(moved.in_sync(), ::testing::Not(::testing::Contains(from)));
    EXPECT_GT(acknowledged.size(), 0u) << "the writer never got an acknowledgement";

    std::set<uint64_t> expected = acknowledged;
    for (uint64_t id = 0; id < kVectors; ++id) expected.insert(id);
    ExpectReadable(expected);

    // Every remaining copy of the shard holds the same rows; the old node holds none of it.
    std::vector<uint64_t> ids(expected.begin(), expected.end());
    std::optional<std::map<uint64_t, std::vector<float>>> first;
    for (const std::string& node : moved.in_sync()) {
      const auto contents = CopyContents(node, shard, ids);
      ASSERT_TRUE(contents.has_value()) << node;
      if (!first.has_value()) {
        first = contents;
        EXPECT_FALSE(first->empty());
      } else {
        EXPECT_TRUE(*contents == *first) << "copy on " << node << " differs";
      }
    }
    EXPECT_FALSE(CopyContents(from, shard, {0}).has_value()) << from << " still serves the shard";

    // Called again: already done.
    v1::MoveShardResponse again;
    const grpc::Status repeated = Move(from, to, shard, &again);
    ASSERT_TRUE(repeated.ok()) << repeated.error_message();
    EXPECT_TRUE(again.already_done());
  }
};

TEST_F(ShardMoveTest, UnreplicatedShardMovesUnderLoadWithoutLosingWrites) {
  CreateDocs(1);
  const v1::ShardInfo before = DescribeShard(0);
  MoveUnderLoad(0, before.node_id());
  const v1::ShardInfo after = DescribeShard(0);
  EXPECT_NE(after.node_id(), before.node_id());
  EXPECT_EQ(after.state(), "serving");
}

TEST_F(ShardMoveTest, ReplicatedPrimaryMovesUnderLoadWithAHandoff) {
  CreateDocs(2);
  const v1::ShardInfo before = DescribeShard(1);
  ASSERT_EQ(before.replicas_size(), 2);
  MoveUnderLoad(1, before.node_id());  // the primary's copy
  const v1::ShardInfo after = DescribeShard(1);
  EXPECT_EQ(after.epoch(), before.epoch() + 1) << "the primary moved: the epoch goes up";
  EXPECT_NE(after.node_id(), before.node_id());
  EXPECT_EQ(after.in_sync_size(), 2);
}

TEST_F(ShardMoveTest, BadRequestsGetPreciseStatuses) {
  CreateDocs(1);
  const v1::ShardInfo shard = DescribeShard(0);
  const std::string holder = shard.node_id();
  const std::string other = NodeWithout(shard);
  v1::MoveShardResponse ignored;

  grpc::Status status = Move(holder, holder, 0, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("both"));
  status = Move(holder, other, 7, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("has 2 shards"));
  status = Move(holder, other, 0, &ignored, "nope");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  std::string third;  // neither holds the shard
  for (const auto& node : nodes_) {
    if (node->target() != holder && node->target() != other) third = node->target();
  }
  status = Move(other, third, 0, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("holds no copy"));
  status = Move(holder, "127.0.0.1:1", 0, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("not a live data node"));
  status = Move("", other, 0, &ignored);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing changed.
  EXPECT_EQ(DescribeShard(0).node_id(), holder);

  // The CLI drives the same RPC.
  std::string output;
  const int code = RunCommand(CliBinary() + " --server " + router_->target() +
                                  " cluster move-shard docs 0 --from " + holder + " --to " + other +
                                  " --timeout 60 2>&1",
                              &output);
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("moved"));
  EXPECT_EQ(DescribeShard(0).node_id(), other);
}

}  // namespace
}  // namespace adanns::testing
