// A router over two real data nodes and a real etcd, against a standalone server holding the same
// vectors: exact searches agree (ids and scores), Get/Delete by id route to the right shard, bad
// input gets the standalone status and writes nothing, a down node fails searches (or answers
// partially when allowed), a data node that is not registered in this cluster is never given a
// shard, and a router started while etcd is down answers UNAVAILABLE naming etcd, then serves.
// The router's --max_query_mflops bounds whole queries, and shards that ran another plan than the
// first are listed in the response.
#include <filesystem>
#include <fstream>
#include <set>

#include "adanns/v1/cluster.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/docs_collection.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/eventually.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<std::string> cluster = {"--etcd=" + etcd_.endpoint(), "--cluster=t",
                                              "--lease_seconds=2"};
    for (int n = 0; n < 2; ++n) {
      std::vector<std::string> flags = cluster;
      flags.push_back("--role=data");
      nodes_.push_back(
          std::make_unique<ServerProcess>(dir_.path() + "/node" + std::to_string(n), flags));
    }
    std::vector<std::string> flags = cluster;
    flags.push_back("--role=router");
    router_ = std::make_unique<ServerProcess>(dir_.path() + "/router", flags);
    standalone_ = std::make_unique<ServerProcess>(dir_.path() + "/standalone");
    routed_ = router_->NewStub();
    alone_ = standalone_->NewStub();
    ASSERT_TRUE(AwaitRegisteredNodes(etcd_, "t", 2));
    for (v1::Adanns::Stub* stub : {routed_.get(), alone_.get()}) {
      v1::CreateCollectionRequest create;
      create.set_name("docs");
      create.set_dim(kDim);
      create.set_metric(v1::L2);
      if (stub == routed_.get()) create.set_shards(3);  // more shards than nodes
      grpc::ClientContext context;
      v1::CollectionInfo info;
      const grpc::Status created = stub->CreateCollection(&context, create, &info);
      ASSERT_TRUE(created.ok()) << created.error_message();
      ASSERT_TRUE(
          UpsertStream(*stub, {Message(0, kVectors / 2), Message(kVectors / 2, kVectors)}).ok());
    }
  }

  TempDir dir_;
  EtcdProcess etcd_{dir_.path()};
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::unique_ptr<ServerProcess> router_;
  std::unique_ptr<ServerProcess> standalone_;
  std::unique_ptr<v1::Adanns::Stub> routed_;
  std::unique_ptr<v1::Adanns::Stub> alone_;
};

TEST_F(RouterTest, ExactSearchesEqualAStandaloneServers) {
  for (uint64_t q = 0; q < 20; ++q) {
    grpc::Status routed_status;
    grpc::Status alone_status;
    const v1::SearchResponse routed = ExactSearch(*routed_, q, false, &routed_status);
    const v1::SearchResponse alone = ExactSearch(*alone_, q, false, &alone_status);
    ASSERT_TRUE(routed_status.ok()) << routed_status.error_message();
    ASSERT_TRUE(alone_status.ok());
    ASSERT_EQ(routed.hits_size(), 10);
    ASSERT_EQ(alone.hits_size(), 10);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(routed.hits(i).id(), alone.hits(i).id()) << "query " << q << " rank " << i;
      EXPECT_FLOAT_EQ(routed.hits(i).score(), alone.hits(i).score());
    }
    EXPECT_EQ(routed.shards_answered(), 3u);
    EXPECT_EQ(routed.shards_total(), 3u);
    EXPECT_EQ(alone.shards_total(), 1u);
    EXPECT_EQ(routed.cost().vectors_scanned(), kVectors);  // every shard scanned its part
  }
  grpc::ClientContext context;
  v1::DescribeCollectionRequest describe;
  describe.set_name("docs");
  v1::CollectionInfo info;
  ASSERT_TRUE(routed_->DescribeCollection(&context, describe, &info).ok());
  EXPECT_EQ(info.vector_count(), kVectors);
  ASSERT_EQ(info.shards_size(), 3);
  uint64_t sum = 0;
  for (const v1::ShardInfo& shard : info.shards()) {
    EXPECT_EQ(shard.state(), "serving");
    EXPECT_GT(shard.vector_count(), 0u);
    sum += shard.vector_count();
  }
  EXPECT_EQ(sum, kVectors);
}

TEST_F(RouterTest, GetAndDeleteByIdRouteToTheirShards) {
  v1::GetRequest get;
  get.set_collection("docs");
  for (uint64_t id : {7ULL, 999999ULL, 123ULL, 0ULL}) get.add_ids(id);
  v1::GetResponse got;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(routed_->Get(&context, get, &got).ok());
  }
  ASSERT_EQ(got.vectors_size(), 3);
  EXPECT_EQ(got.vectors(0).id(), 7u);
  EXPECT_EQ(got.vectors(1).id(), 123u);
  EXPECT_EQ(got.vectors(2).id(), 0u);
  EXPECT_EQ(std::vector<float>(got.vectors(1).values().begin(), got.vectors(1).values().end()),
            Row(123));
  ASSERT_EQ(got.missing_ids_size(), 1);
  EXPECT_EQ(got.missing_ids(0), 999999u);

  v1::DeleteRequest del;
  del.set_collection("docs");
  for (uint64_t id = 0; id < 30; ++id) del.add_ids(id);
  del.add_ids(999999);
  grpc::ClientContext context;
  v1::DeleteResponse deleted;
  ASSERT_TRUE(routed_->Delete(&context, del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 30u);
  grpc::ClientContext again;
  v1::GetResponse after;
  ASSERT_TRUE(routed_->Get(&again, get, &after).ok());
  EXPECT_EQ(after.vectors_size(), 1);  // only 123 is left
}

TEST_F(RouterTest, BadInputGetsTheStandaloneStatusAndWritesNothing) {
  v1::UpsertRequest bad = Message(5000, 5010);
  bad.mutable_vectors(7)->mutable_values()->RemoveLast();  // one vector of dim - 1
  for (v1::Adanns::Stub* stub : {routed_.get(), alone_.get()}) {
    const grpc::Status status = UpsertStream(*stub, {bad});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("vectors[7] (id 5007) has 7 values"));
  }
  v1::GetRequest get;
  get.set_collection("docs");
  for (uint64_t id = 5000; id < 5010; ++id) get.add_ids(id);
  grpc::ClientContext context;
  v1::GetResponse got;
  ASSERT_TRUE(routed_->Get(&context, get, &got).ok());
  EXPECT_EQ(got.vectors_size(), 0);  // no shard took its part

  grpc::ClientContext create_context;
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dim(kDim);
  create.set_metric(v1::L2);
  v1::CollectionInfo info;
  EXPECT_EQ(routed_->CreateCollection(&create_context, create, &info).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  grpc::ClientContext missing_context;
  v1::SearchRequest missing;
  missing.set_collection("nope");
  missing.set_k(1);
  missing.add_query(1);
  v1::SearchResponse response;
  const grpc::Status not_found = routed_->Search(&missing_context, missing, &response);
  EXPECT_EQ(not_found.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(not_found.error_message(), HasSubstr("collection 'nope' does not exist"));
}

TEST_F(RouterTest, ADownNodeFailsSearchesUnlessPartialAnswersAreAllowed) {
  nodes_[1]->Kill();
  ASSERT_TRUE(AwaitRegisteredNodes(etcd_, "t", 1));
  grpc::Status status;
  ExactSearch(*routed_, 1, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("collection 'docs' shard"));
  const v1::SearchResponse partial = ExactSearch(*routed_, 1, true, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(partial.shards_total(), 3u);
  EXPECT_GE(partial.shards_answered(), 1u);
  EXPECT_LT(partial.shards_answered(), 3u);
}

// A search with `budget` through `stub`: its status, and the response in *response.
grpc::Status Search(v1::Adanns::Stub& stub, const v1::Budget& budget,
                    v1::SearchResponse* response) {
  v1::SearchRequest request;
  request.set_collection("docs");
  request.set_k(10);
  const std::vector<float> query = Row(100000);
  request.mutable_query()->Add(query.begin(), query.end());
  *request.mutable_budget() = budget;
  grpc::ClientContext context;
  return stub.Search(&context, request, response);
}

TEST_F(RouterTest, TheRoutersMflopsCapBoundsTheWholeQuery) {
  // A full scan of the 300 rows at 8 dims costs 0.0024 MFLOPs; the cap is half of it.
  constexpr double kCap = 0.0012;
  std::vector<std::string> flags = {"--etcd=" + etcd_.endpoint(), "--cluster=t", "--role=router",
                                    "--max_query_mflops=0.0012"};
  ServerProcess rejecting(dir_.path() + "/rejecting", flags);
  flags.push_back("--over_limit=clamp");
  ServerProcess clamping(dir_.path() + "/clamping", flags);

  v1::Budget over;
  over.set_max_mflops(0.002);
  v1::SearchResponse response;
  grpc::Status status = Search(*rejecting.NewStub(), over, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("budget.max_mflops = 0.002 exceeds this server's limit of 0.0012"));

  // A plan that must scan every row: each shard's part is over its share of the cap.
  v1::Budget flat;
  flat.mutable_plan()->set_index("flat");
  status = Search(*rejecting.NewStub(), flat, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("of the cluster's limit of 0.0012"));

  // A request cap below what some shard's share can buy: the shard's verdict, and how its share
  // came about.
  v1::Budget small;
  small.set_max_mflops(0.001);
  status = Search(*routed_, small, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(status.error_message(), HasSubstr("is below every plan"));
  EXPECT_THAT(status.error_message(),
              HasSubstr("max_mflops = 0.001 is split over the shards by their sizes"));

  // Clamping: the plan runs within the router's cap (each shard's scan stops at its share).
  status = Search(*clamping.NewStub(), flat, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_LE(response.cost().mflops(), kCap * (1 + 1e-9));
  EXPECT_TRUE(response.cost().capped());
  EXPECT_LT(response.cost().vectors_scanned(), kVectors);
  EXPECT_EQ(response.hits_size(), 10);
  // Without a cap the same flat plan scans everything.
  status = Search(*routed_, flat, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.cost().vectors_scanned(), kVectors);
  EXPECT_FALSE(response.cost().capped());
  EXPECT_EQ(response.shard_plans_size(), 0);  // every shard ran the same plan
}

TEST_F(RouterTest, ShardsThatRanAnotherPlanAreListed) {
  // A graph on shard 0 only (built through its node's ShardService): the automatic plan uses it
  // there and scans the other shards.
  v1::ShardBuildIndexRequest build;
  build.set_shard(0);
  build.mutable_request()->set_collection("docs");
  build.mutable_request()->mutable_hnsw()->set_graph_dims(kDim);
  std::unique_ptr<v1::ShardService::Stub> holder;
  for (const auto& node : nodes_) {
    auto shards = v1::ShardService::NewStub(
        grpc::CreateChannel(node->target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::BuildIndexResponse built;
    if (shards->BuildIndex(&context, build, &built).ok()) holder = std::move(shards);
  }
  ASSERT_NE(holder, nullptr);
  ASSERT_TRUE(Eventually(
      [&] {
        v1::ShardRequest describe;
        describe.set_collection("docs");
        describe.set_shard(0);
        grpc::ClientContext context;
        v1::CollectionInfo info;
        if (!holder->DescribeShard(&context, describe, &info).ok()) return false;
        for (const v1::IndexInfo& index : info.indexes()) {
          if (index.name() == "hnsw") return index.state() == "ready";
        }
        return false;
      },
      std::chrono::seconds(60)));
  v1::SearchResponse response;
  const grpc::Status status = Search(*routed_, v1::Budget(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.shards_answered(), 3u);
  EXPECT_EQ(response.plan().index(), "hnsw");  // shard 0's
  std::set<uint32_t> listed;
  for (const v1::ShardPlan& other : response.shard_plans()) {
    EXPECT_EQ(other.plan().index(), "flat");
    listed.insert(other.shard());
  }
  EXPECT_EQ(listed, (std::set<uint32_t>{1, 2}));
}

TEST_F(RouterTest, ANodeNotRegisteredInTheClusterIsNeverGivenAShard) {
  // A running data node whose registration is elsewhere (another cluster's key prefix).
  ServerProcess stranger(dir_.path() + "/stranger",
                         {"--etcd=" + etcd_.endpoint(), "--cluster=other", "--role=data"});
  ASSERT_TRUE(AwaitRegisteredNodes(etcd_, "other", 1));
  auto registered = etcd_.NewClient()->GetPrefix("/t/nodes/");
  ASSERT_TRUE(registered.ok());
  std::set<std::string> members;
  for (const auto& kv : registered->kvs) {
    members.insert(kv.key.substr(std::string("/t/nodes/").size()));
  }
  ASSERT_EQ(members.size(), 2u);
  v1::CreateCollectionRequest create;
  create.set_name("wide");
  create.set_dim(kDim);
  create.set_metric(v1::L2);
  create.set_shards(8);
  v1::CollectionInfo info;
  grpc::ClientContext context;
  ASSERT_TRUE(routed_->CreateCollection(&context, create, &info).ok());
  ASSERT_EQ(info.shards_size(), 8);
  for (const v1::ShardInfo& shard : info.shards()) {
    EXPECT_EQ(members.count(shard.node_id()), 1u) << shard.node_id();
    EXPECT_EQ(shard.state(), "serving");
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/stranger/shards/wide"));
}

TEST(RouterStartTest, EtcdDownAtStartIsAClearErrorThenServes) {
  TempDir dir;
  EtcdProcess etcd(dir.path() + "/etcd");
  etcd.Stop();
  ServerProcess router(dir.path() + "/router",
                       {"--etcd=" + etcd.endpoint(), "--cluster=t", "--role=router"});
  auto stub = router.NewStub();
  auto list = [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListCollectionsResponse listed;
    return stub->ListCollections(&context, {}, &listed);
  };
  const grpc::Status down = list();
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(down.error_message(), HasSubstr("etcd")) << down.error_message();
  ASSERT_TRUE(router.running());
  etcd.Restart();
  EXPECT_TRUE(Eventually([&] { return list().ok(); }, std::chrono::seconds(30)));
  EXPECT_EQ(router.Stop(), 0);
}

// One process can be both (--role=data,router): it registers, hosts the shards and routes to
// itself; a second data node joins and takes its share of a new collection.
TEST(CombinedRoleTest, ADataNodeThatIsAlsoARouterServesTheWholeApi) {
  TempDir dir;
  EtcdProcess etcd(dir.path() + "/etcd");
  const std::vector<std::string> cluster = {"--etcd=" + etcd.endpoint(), "--cluster=c"};
  std::vector<std::string> flags = cluster;
  flags.push_back("--role=data,router");
  ServerProcess both(dir.path() + "/both", flags);
  flags = cluster;
  flags.push_back("--role=data");
  ServerProcess data(dir.path() + "/data", flags);
  ASSERT_TRUE(AwaitRegisteredNodes(etcd, "c", 2));
  auto stub = both.NewStub();
  {
    v1::CollectionInfo info;
    const grpc::Status created = CreateDocs(*stub, 4, &info);
    ASSERT_TRUE(created.ok()) << created.error_message();
    std::set<std::string> nodes;
    for (const v1::ShardInfo& shard : info.shards()) nodes.insert(shard.node_id());
    EXPECT_EQ(nodes.size(), 2u);
  }
  ASSERT_TRUE(UpsertStream(*stub, {Message(0, kVectors)}).ok());
  grpc::Status status;
  const v1::SearchResponse found = ExactSearch(*stub, 3, false, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(found.hits_size(), 10);
  EXPECT_EQ(found.shards_answered(), 4u);
  EXPECT_EQ(found.cost().vectors_scanned(), kVectors);
}

// With --cluster_key_file a data node's shard service answers only calls carrying the key: a
// router with the same key works; one with another key or none gets INTERNAL naming the node and
// the cause (a cluster misconfiguration, not the client's fault); a direct call without it gets
// UNAUTHENTICATED. (That the key lets a data node listen beyond loopback is role_options_test's.)
TEST(ClusterKeyTest, OnlyCallsWithTheKeyReachTheShards) {
  TempDir dir;
  EtcdProcess etcd(dir.path() + "/etcd");
  auto write_key = [&](const std::string& name, const std::string& key) {
    std::ofstream(dir.path() + "/" + name) << key << "\n";
    return "--cluster_key_file=" + dir.path() + "/" + name;
  };
  const std::string key = write_key("key", "0123456789abcdef-cluster-secret");
  const std::vector<std::string> cluster = {"--etcd=" + etcd.endpoint(), "--cluster=k"};
  std::vector<std::string> flags = cluster;
  flags.push_back("--role=data");
  flags.push_back(key);
  ServerProcess node(dir.path() + "/node", flags);
  std::vector<std::string> router_flags = cluster;
  router_flags.push_back("--role=router");
  ServerProcess good(dir.path() + "/good", [&] {
    auto f = router_flags;
    f.push_back(key);
    return f;
  }());
  ServerProcess wrong(dir.path() + "/wrong", [&] {
    auto f = router_flags;
    f.push_back(write_key("other", "another-key-of-enough-bytes"));
    return f;
  }());
  ServerProcess keyless(dir.path() + "/keyless", router_flags);
  ASSERT_TRUE(AwaitRegisteredNodes(etcd, "k", 1));

  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dim(kDim);
  create.set_metric(v1::L2);
  create.set_shards(2);
  {
    grpc::ClientContext context;
    v1::CollectionInfo info;
    const grpc::Status created = good.NewStub()->CreateCollection(&context, create, &info);
    ASSERT_TRUE(created.ok()) << created.error_message();
  }
  auto good_stub = good.NewStub();
  ASSERT_TRUE(UpsertStream(*good_stub, {Message(0, 50)}).ok());
  grpc::Status status;
  EXPECT_EQ(ExactSearch(*good_stub, 1, false, &status).hits_size(), 10);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // The client's own credentials are not at fault: INTERNAL, naming the node and the cause.
  ExactSearch(*wrong.NewStub(), 1, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("wrong cluster key"));
  EXPECT_THAT(status.error_message(), HasSubstr("refused this router"));
  ExactSearch(*keyless.NewStub(), 1, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("needs the cluster key"));

  auto shards = v1::ShardService::NewStub(
      grpc::CreateChannel(node.target(), grpc::InsecureChannelCredentials()));
  v1::ShardRequest describe;
  describe.set_collection("docs");
  describe.set_shard(0);
  grpc::ClientContext context;
  v1::CollectionInfo info;
  EXPECT_EQ(shards->DescribeShard(&context, describe, &info).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace adanns::testing
