// A real data node (adanns-server --role=data) serving adanns.v1.ShardService: each shard is its
// own collection in its own RocksDB under --data_dir/shards/<collection>/<shard>, created
// idempotently, isolated from the other shards, kept across a restart and deleted by DropShard.
#include <filesystem>

#include "adanns/v1/cluster.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/cluster/etcd_process.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint32_t kDim = 8;

v1::CreateShardRequest ShardSpec(uint32_t shard, uint32_t dim = kDim) {
  v1::CreateShardRequest request;
  request.set_shard(shard);
  request.mutable_spec()->set_name("docs");
  request.mutable_spec()->set_dim(dim);
  request.mutable_spec()->set_metric(v1::L2);
  return request;
}

// Vector `id`: every value id + j / 10, so the nearest stored vector to row(id) is id itself.
std::vector<float> Row(uint64_t id) {
  std::vector<float> row(kDim);
  for (uint32_t j = 0; j < kDim; ++j) row[j] = static_cast<float>(id) + 0.1f * j;
  return row;
}

class ShardServiceTest : public ::testing::Test {
 protected:
  void StartNode(std::vector<std::string> extra_flags = {}) {
    std::vector<std::string> flags = {"--role=data", "--etcd=" + etcd_.endpoint(), "--cluster=t",
                                      "--lease_seconds=2"};
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    node_ = std::make_unique<ServerProcess>(data_dir_, flags);
    shards_ = v1::ShardService::NewStub(
        grpc::CreateChannel(node_->target(), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Create(const v1::CreateShardRequest& request, v1::CollectionInfo* info = nullptr) {
    grpc::ClientContext context;
    v1::CollectionInfo ignored;
    return shards_->CreateShard(&context, request, info != nullptr ? info : &ignored);
  }

  grpc::Status Upsert(uint32_t shard, const std::vector<uint64_t>& ids) {
    v1::ShardUpsertRequest request;
    request.set_shard(shard);
    request.mutable_request()->set_collection("docs");
    for (uint64_t id : ids) {
      v1::Vector* vector = request.mutable_request()->add_vectors();
      vector->set_id(id);
      const std::vector<float> row = Row(id);
      vector->mutable_values()->Add(row.begin(), row.end());
    }
    grpc::ClientContext context;
    v1::UpsertResponse response;
    return shards_->Upsert(&context, request, &response);
  }

  // Ids of an exact search for Row(of) on `shard`.
  std::vector<uint64_t> Nearest(uint32_t shard, uint64_t of, uint32_t k, grpc::Status* status) {
    v1::ShardSearchRequest request;
    request.set_shard(shard);
    request.mutable_request()->set_collection("docs");
    request.mutable_request()->set_k(k);
    const std::vector<float> query = Row(of);
    request.mutable_request()->mutable_query()->Add(query.begin(), query.end());
    request.mutable_request()->mutable_budget()->mutable_plan()->set_index("flat");
    grpc::ClientContext context;
    v1::SearchResponse response;
    *status = shards_->Search(&context, request, &response);
    std::vector<uint64_t> ids;
    for (const v1::Hit& hit : response.hits()) ids.push_back(hit.id());
    return ids;
  }

  TempDir dir_;
  EtcdProcess etcd_{dir_.path()};
  std::string data_dir_ = dir_.path() + "/node";
  std::unique_ptr<ServerProcess> node_;
  std::unique_ptr<v1::ShardService::Stub> shards_;
};

TEST_F(ShardServiceTest, ShardsAreIsolatedCollectionsInTheirOwnStores) {
  StartNode();
  v1::CollectionInfo info;
  const grpc::Status created = Create(ShardSpec(0), &info);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(info.name(), "docs");
  EXPECT_EQ(info.dim(), kDim);
  ASSERT_TRUE(Create(ShardSpec(1)).ok());
  EXPECT_TRUE(std::filesystem::is_directory(data_dir_ + "/shards/docs/0"));
  EXPECT_TRUE(std::filesystem::is_directory(data_dir_ + "/shards/docs/1"));

  ASSERT_TRUE(Upsert(0, {1, 2, 3}).ok());
  ASSERT_TRUE(Upsert(1, {10, 11}).ok());
  grpc::Status status;
  EXPECT_THAT(Nearest(0, 2, 10, &status), ElementsAre(2, 1, 3));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(Nearest(1, 2, 10, &status), ElementsAre(10, 11));  // shard 0's rows are not here

  v1::ShardGetRequest get;
  get.set_shard(1);
  get.mutable_request()->set_collection("docs");
  get.mutable_request()->add_ids(10);
  get.mutable_request()->add_ids(1);
  grpc::ClientContext get_context;
  v1::GetResponse got;
  ASSERT_TRUE(shards_->Get(&get_context, get, &got).ok());
  ASSERT_EQ(got.vectors_size(), 1);
  EXPECT_THAT(std::vector<float>(got.vectors(0).values().begin(), got.vectors(0).values().end()),
              ::testing::ContainerEq(Row(10)));
  EXPECT_THAT(got.missing_ids(), ElementsAre(1));

  v1::ShardDeleteRequest del;
  del.set_shard(0);
  del.mutable_request()->set_collection("docs");
  del.mutable_request()->add_ids(2);
  grpc::ClientContext delete_context;
  v1::DeleteResponse deleted;
  ASSERT_TRUE(shards_->Delete(&delete_context, del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1u);
  EXPECT_THAT(Nearest(0, 2, 10, &status), ElementsAre(1, 3));
}

TEST_F(ShardServiceTest, CreateIsIdempotentAndRefusesAnotherSpecOrABadOne) {
  StartNode();
  ASSERT_TRUE(Create(ShardSpec(0)).ok());
  ASSERT_TRUE(Upsert(0, {1}).ok());
  v1::CollectionInfo again;
  ASSERT_TRUE(Create(ShardSpec(0), &again).ok());  // a retried create keeps the data
  EXPECT_EQ(again.vector_count(), 1u);

  grpc::Status other = Create(ShardSpec(0, kDim * 2));
  EXPECT_EQ(other.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(other.error_message(), HasSubstr("collection docs shard 0"));

  grpc::Status bad = Create(ShardSpec(3, 0));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ + "/shards/docs/3"));
}

TEST_F(ShardServiceTest, AShardNotHeldIsNotFoundAndThePublicServiceIsNotServed) {
  StartNode();
  grpc::Status status;
  Nearest(7, 0, 1, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("collection docs shard 7 is not on this node"));

  auto public_stub = node_->NewStub();
  grpc::ClientContext context;
  v1::ListCollectionsResponse listed;
  EXPECT_EQ(public_stub->ListCollections(&context, {}, &listed).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ShardServiceTest, ARestartKeepsTheShardsAndDropShardDeletesOne) {
  StartNode();
  ASSERT_TRUE(Create(ShardSpec(0)).ok());
  ASSERT_TRUE(Create(ShardSpec(1)).ok());
  ASSERT_TRUE(Upsert(0, {1, 2}).ok());
  ASSERT_TRUE(Upsert(1, {5}).ok());
  ASSERT_EQ(node_->Stop(), 0);
  StartNode();
  grpc::Status status;
  EXPECT_THAT(Nearest(0, 1, 10, &status), ElementsAre(1, 2));
  EXPECT_THAT(Nearest(1, 1, 10, &status), ElementsAre(5));

  v1::ShardRequest drop;
  drop.set_collection("docs");
  drop.set_shard(1);
  grpc::ClientContext context;
  v1::DropCollectionResponse dropped;
  ASSERT_TRUE(shards_->DropShard(&context, drop, &dropped).ok());
  EXPECT_EQ(dropped.dropped_vectors(), 1u);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ + "/shards/docs/1"));
  Nearest(1, 1, 10, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(Nearest(0, 1, 10, &status), ElementsAre(1, 2));
}

// Two shards of one collection on one node keep their own gauges (label "docs/<shard>").
TEST_F(ShardServiceTest, EachShardHasItsOwnMetrics) {
  const int metrics_port = FreeLoopbackPort();
  StartNode({"--metrics_listen=127.0.0.1:" + std::to_string(metrics_port)});
  ASSERT_TRUE(Create(ShardSpec(0)).ok());
  ASSERT_TRUE(Create(ShardSpec(1)).ok());
  ASSERT_TRUE(Upsert(0, {1, 2}).ok());
  ASSERT_TRUE(Upsert(1, {5}).ok());
  std::string text;
  ASSERT_EQ(
      RunCommand("curl -sf http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics", &text),
      0);
  EXPECT_THAT(text, HasSubstr("adanns_collection_vectors{collection=\"docs/0\"} 2"));
  EXPECT_THAT(text, HasSubstr("adanns_collection_vectors{collection=\"docs/1\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("collection=\"docs\"}")));
}

}  // namespace
}  // namespace adanns::testing
