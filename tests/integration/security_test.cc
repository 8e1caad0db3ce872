// API keys and TLS over a real loopback server: calls without a key or with an unknown one are
// UNAUTHENTICATED, a read key may only read, health checks stay open; TLS and mutual TLS with
// certificates generated here by Debian's openssl, through the C++ client's options.
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/common/test_certificates.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

constexpr char kAdminKey[] = "admin-0123456789abcdef";
constexpr char kReadKey[] = "reader-0123456789abcdef";

class ApiKeyTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    auto keys = server::ApiKeys::Parse(std::string(kAdminKey) + " admin\n" + kReadKey + " read\n");
    ASSERT_TRUE(keys.ok());
    options.service.api_keys = std::make_shared<const server::ApiKeys>(*std::move(keys));
  }

  std::unique_ptr<client::Client> Connect(const std::string& key) {
    client::ClientOptions options;
    options.api_key = key;
    auto connected =
        client::Client::Connect("127.0.0.1:" + std::to_string(server_->port()), options);
    EXPECT_TRUE(connected.ok()) << connected.status();
    return std::move(*connected);
  }
};

v1::CreateCollectionRequest NewCollection(const std::string& name) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  request.set_dim(4);
  request.set_metric(v1::L2);
  return request;
}

v1::SearchRequest Query(const std::string& name) {
  v1::SearchRequest request;
  request.set_collection(name);
  for (const float value : {1.0f, 2.0f, 3.0f, 4.0f}) request.add_query(value);
  request.set_k(1);
  return request;
}

TEST_F(ApiKeyTest, KeysDecideWhoMayReadAndWrite) {
  auto admin = Connect(kAdminKey);
  auto reader = Connect(kReadKey);
  auto anonymous = Connect("");
  auto stranger = Connect("stranger-0123456789abcdef");

  ASSERT_TRUE(admin->CreateCollection(NewCollection("c")).ok());
  ASSERT_TRUE(admin->UpsertRows("c", 0, std::vector<float>{1, 2, 3, 4}.data(), 1, 4).ok());
  for (client::Client* denied : {anonymous.get(), stranger.get()}) {
    EXPECT_EQ(denied->Search(Query("c")).status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(denied->ListCollections().status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(denied->CreateCollection(NewCollection("d")).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  // A read key reads...
  absl::StatusOr<v1::SearchResponse> found = reader->Search(Query("c"));
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->hits(0).id(), 0u);
  EXPECT_TRUE(reader->ListCollections().ok());
  // ... and nothing else.
  EXPECT_EQ(reader->CreateCollection(NewCollection("d")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reader->UpsertRows("c", 5, std::vector<float>{1, 1, 1, 1}.data(), 1, 4).status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::DeleteRequest remove;
  remove.set_collection("c");
  remove.add_ids(0);
  EXPECT_EQ(reader->Delete(remove).status().code(), absl::StatusCode::kPermissionDenied);
  v1::BuildIndexRequest build;
  build.set_collection("c");
  EXPECT_EQ(reader->BuildIndex(build).status().code(), absl::StatusCode::kPermissionDenied);
  v1::DropCollectionRequest drop;
  drop.set_name("c");
  EXPECT_EQ(reader->DropCollection(drop).status().code(), absl::StatusCode::kPermissionDenied);
  // Health checks stay open for probes, with no key.
  EXPECT_EQ(HealthCheck(), std::string("\x08\x01", 2));
  // Nothing a refused call asked for happened.
  EXPECT_EQ(admin->ListCollections()->collections_size(), 1);
  EXPECT_EQ(admin->Search(Query("c"))->hits_size(), 1);
}

class TlsTest : public InProcessServerTest {
 protected:
  static void SetUpTestSuite() { certs_ = new TestCertificates(); }
  static void TearDownTestSuite() { delete certs_; }

  void Configure(server::ServerOptions& options) override {
    options.tls_cert_file = certs_->File("server.pem");
    options.tls_key_file = certs_->File("server.key");
    if (mutual_) options.tls_client_ca_file = certs_->File("ca.pem");
  }

  absl::StatusOr<std::unique_ptr<client::Client>> Connect(bool tls, bool client_cert) {
    client::ClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(2000);
    if (tls) options.tls_ca_file = certs_->File("ca.pem");
    if (client_cert) {
      options.tls_cert_file = certs_->File("client.pem");
      options.tls_key_file = certs_->File("client.key");
    }
    return client::Client::Connect("127.0.0.1:" + std::to_string(server_->port()), options);
  }

  static inline TestCertificates* certs_ = nullptr;
  bool mutual_ = false;
};

class MutualTlsTest : public TlsTest {
 protected:
  MutualTlsTest() { mutual_ = true; }
};

TEST_F(TlsTest, TlsClientsConnectAndPlaintextOnesDoNot) {
  absl::StatusOr<std::unique_ptr<client::Client>> secure = Connect(true, false);
  ASSERT_TRUE(secure.ok()) << secure.status();
  EXPECT_TRUE((*secure)->CreateCollection(NewCollection("c")).ok());
  EXPECT_EQ((*secure)->ListCollections()->collections_size(), 1);
  EXPECT_EQ(Connect(false, false).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(MutualTlsTest, ClientsNeedACertificateSignedByTheCa) {
  EXPECT_FALSE(Connect(true, false).ok());
  absl::StatusOr<std::unique_ptr<client::Client>> secure = Connect(true, true);
  ASSERT_TRUE(secure.ok()) << secure.status();
  EXPECT_TRUE((*secure)->ListCollections().ok());
}

}  // namespace
}  // namespace adanns::testing
