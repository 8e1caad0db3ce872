// TLS inside a cluster, with certificates made here by openssl: an etcd serving TLS and requiring
// client certificates answers only clients that bring one; a router dials a data node that
// requires mutual TLS, both reaching that etcd over TLS, and serves writes and exact searches;
// a router without a client certificate gets UNAVAILABLE from that node, promptly.
#include <chrono>

#include "cluster/etcd_client.h"
#include "gtest/gtest.h"
#include "tests/cluster/etcd_process.h"
#include "tests/common/temp_dir.h"
#include "tests/common/test_certificates.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 4;
constexpr uint64_t kVectors = 8;

std::vector<float> Row(uint64_t id) {
  const float x = static_cast<float>(id);
  return {x, x * x, 1.0f, -x};
}

class ClusterTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new TestCertificates(); }
  static void TearDownTestSuite() { delete certs_; }

  static std::string Cert(const std::string& name) { return certs_->File(name); }

  // A plain EtcdClient of the TLS etcd with `credentials` (null: plaintext).
  std::unique_ptr<cluster::EtcdClient> ClientWith(
      std::shared_ptr<grpc::ChannelCredentials> credentials) const {
    cluster::EtcdOptions options;
    options.endpoints = {etcd_->endpoint()};
    options.call_timeout = absl::Seconds(2);
    options.credentials = std::move(credentials);
    return *cluster::EtcdClient::Create(std::move(options));
  }

  // Flags of a data node or router reaching the TLS etcd with the client certificate.
  std::vector<std::string> ClusterFlags(const std::string& role) const {
    return {"--role=" + role,
            "--etcd=" + etcd_->endpoint(),
            "--cluster=t",
            "--lease_seconds=2",
            "--etcd_ca=" + Cert("ca.pem"),
            "--etcd_cert=" + Cert("client.pem"),
            "--etcd_key=" + Cert("client.key")};
  }

  static inline TestCertificates* certs_ = nullptr;
  TempDir dir_;
  std::unique_ptr<EtcdProcess> etcd_ = std::make_unique<EtcdProcess>(dir_.path(), certs_->path());
};

TEST_F(ClusterTlsTest, EtcdOverTlsAnswersOnlyClientsWithACertificate) {
  auto client = etcd_->NewClient();  // CA and client certificate
  ASSERT_TRUE(client->Put("/t/k", "v").ok());
  auto found = client->Get("/t/k");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->value, "v");

  const auto plaintext = ClientWith(nullptr)->Get("/t/k");
  EXPECT_EQ(plaintext.status().code(), absl::StatusCode::kUnavailable) << plaintext.status();
  auto ca_only = cluster::TlsClientCredentials({Cert("ca.pem"), "", ""}, "--etcd_");
  ASSERT_TRUE(ca_only.ok()) << ca_only.status();
  const auto without_certificate = ClientWith(*ca_only)->Get("/t/k");
  EXPECT_EQ(without_certificate.status().code(), absl::StatusCode::kUnavailable)
      << without_certificate.status();
}

TEST_F(ClusterTlsTest, ARouterServesThroughAMutualTlsDataNode) {
  std::vector<std::string> data_flags = ClusterFlags("data");
  data_flags.insert(data_flags.end(),
                    {"--tls_cert=" + Cert("server.pem"), "--tls_key=" + Cert("server.key"),
                     "--tls_client_ca=" + Cert("ca.pem")});
  ServerProcess node(dir_.path() + "/node", data_flags);
  std::vector<std::string> router_flags = ClusterFlags("router");
  router_flags.push_back("--shard_tls_ca=" + Cert("ca.pem"));
  std::vector<std::string> uncertified_flags = router_flags;
  router_flags.insert(router_flags.end(), {"--shard_tls_cert=" + Cert("client.pem"),
                                           "--shard_tls_key=" + Cert("client.key")});
  ServerProcess router(dir_.path() + "/router", router_flags);
  ASSERT_TRUE(AwaitRegisteredNodes(*etcd_, "t", 1));  // registered over TLS
  auto routed = router.NewStub();

  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dim(kDim);
  create.set_metric(v1::L2);
  create.set_shards(2);
  grpc::ClientContext create_context;
  create_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CollectionInfo info;
  const grpc::Status created = routed->CreateCollection(&create_context, create, &info);
  ASSERT_TRUE(created.ok()) << created.error_message();
  v1::UpsertRequest upsert;
  upsert.set_collection("docs");
  for (uint64_t id = 0; id < kVectors; ++id) {
    v1::Vector* vector = upsert.add_vectors();
    vector->set_id(id);
    const std::vector<float> row = Row(id);
    vector->mutable_values()->Add(row.begin(), row.end());
  }
  const grpc::Status upserted = UpsertStream(*routed, {upsert}, std::chrono::seconds(20));
  ASSERT_TRUE(upserted.ok()) << upserted.error_message();

  // An exact search for each stored row finds it at distance 0, through both shards.
  auto search = [](v1::Adanns::Stub& stub, uint64_t id, v1::SearchResponse* response) {
    v1::SearchRequest request;
    request.set_collection("docs");
    request.set_k(3);
    const std::vector<float> query = Row(id);
    request.mutable_query()->Add(query.begin(), query.end());
    request.mutable_budget()->mutable_plan()->set_index("flat");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return stub.Search(&context, request, response);
  };
  for (uint64_t id = 0; id < kVectors; ++id) {
    v1::SearchResponse response;
    const grpc::Status status = search(*routed, id, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_GE(response.hits_size(), 1);
    EXPECT_EQ(response.hits(0).id(), id);
    EXPECT_FLOAT_EQ(response.hits(0).score(), 0.0f);
    EXPECT_EQ(response.shards_answered(), 2u);
  }

  // A router that trusts the node but has no client certificate is refused by the handshake:
  // UNAVAILABLE, not the search's deadline (a hang) nor a crash.
  ServerProcess uncertified(dir_.path() + "/uncertified", uncertified_flags);
  auto refused_stub = uncertified.NewStub();
  v1::SearchResponse response;
  const grpc::Status refused = search(*refused_stub, 1, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_TRUE(uncertified.running());
  EXPECT_EQ(uncertified.Stop(), 0);
  EXPECT_EQ(router.Stop(), 0);
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace adanns::testing
