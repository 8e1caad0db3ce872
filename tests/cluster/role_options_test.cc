// --role and the cluster flags: validation and the defaults settled once the port is bound.
#include "cluster/role_options.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RoleFlags Flags(std::string role, std::string etcd) {
  RoleFlags flags;
  flags.role = std::move(role);
  flags.etcd = std::move(etcd);
  return flags;
}

void ExpectRejected(const RoleFlags& flags, const std::string& naming) {
  absl::Status status = ParseRoleFlags(flags).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(naming));
}

TEST(RoleOptionsTest, StandaloneIsTheDefaultAndRefusesEtcd) {
  auto options = ParseRoleFlags(RoleFlags{});
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->standalone());
  ExpectRejected(Flags("standalone", "127.0.0.1:2379"), "--etcd");
}

TEST(RoleOptionsTest, ClusterRolesNeedEtcdAndValidateEveryFlag) {
  auto data = ParseRoleFlags(Flags("data", "a:2379,b:2379"));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->data);
  EXPECT_FALSE(data->router);
  EXPECT_THAT(data->etcd_endpoints, ElementsAre("a:2379", "b:2379"));
  EXPECT_EQ(data->cluster, "adanns");
  EXPECT_EQ(data->lease_ttl, absl::Seconds(5));
  auto both = ParseRoleFlags(Flags("data,router", "a:2379"));
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->data && both->router);

  ExpectRejected(Flags("data", ""), "needs --etcd");
  ExpectRejected(Flags("router", ""), "needs --etcd");
  ExpectRejected(Flags("leader", "a:1"), "--role");
  ExpectRejected(Flags("data", "a"), "HOST:PORT");
  RoleFlags flags = Flags("data", "a:1");
  flags.cluster = "bad/name";
  ExpectRejected(flags, "--cluster");
  flags = Flags("data", "a:1");
  flags.lease_seconds = 1;
  ExpectRejected(flags, "--lease_seconds");
  flags = Flags("data", "a:1");
  flags.advertise = "0.0.0.0:7000";
  ExpectRejected(flags, "--advertise");
  flags.advertise = "host";
  ExpectRejected(flags, "--advertise");
  flags = Flags("data", "a:1");
  flags.node_id = "a/b";
  ExpectRejected(flags, "--node_id");
}

TEST(RoleOptionsTest, TlsFlagsAreCheckedAndTheirFilesReadAtStartUp) {
  adanns::testing::TempDir dir;
  const std::string pem = dir.path() + "/any.pem";
  std::ofstream(pem) << "not checked until a handshake\n";
  RoleFlags flags = Flags("data,router", "a:2379");
  flags.etcd_tls = {pem, pem, pem};
  flags.shard_tls = {pem, "", ""};
  auto secure = ParseRoleFlags(flags);
  ASSERT_TRUE(secure.ok()) << secure.status();
  EXPECT_NE(secure->etcd_credentials, nullptr);
  EXPECT_NE(secure->shard_credentials, nullptr);
  EXPECT_EQ(secure->EtcdClientOptions().credentials, secure->etcd_credentials);
  auto plaintext = ParseRoleFlags(Flags("router", "a:2379"));
  ASSERT_TRUE(plaintext.ok());
  EXPECT_EQ(plaintext->etcd_credentials, nullptr);
  EXPECT_EQ(plaintext->shard_credentials, nullptr);

  flags = Flags("standalone", "");
  flags.etcd_tls.ca = pem;
  ExpectRejected(flags, "--etcd_ca");
  flags = Flags("standalone", "");
  flags.shard_tls.ca = pem;
  ExpectRejected(flags,
                 "--shard_tls_ca, --shard_tls_cert and --shard_tls_key are for --role=router or "
                 "data");
  flags = Flags("data", "a:2379");  // a follower dials its primary like a router dials a node
  flags.shard_tls.ca = pem;
  auto data_tls = ParseRoleFlags(flags);
  ASSERT_TRUE(data_tls.ok()) << data_tls.status();
  EXPECT_NE(data_tls->shard_credentials, nullptr);
  flags = Flags("data", "a:2379");
  flags.etcd_tls = {pem, pem, ""};
  ExpectRejected(flags, "--etcd_cert and --etcd_key go together");
  flags = Flags("router", "a:2379");
  flags.shard_tls = {"", pem, pem};
  ExpectRejected(flags, "need --shard_tls_ca");

  flags = Flags("router", "a:2379");
  flags.shard_tls = {pem, pem, dir.path() + "/missing.key"};
  const absl::Status unreadable = ParseRoleFlags(flags).status();
  EXPECT_TRUE(absl::IsNotFound(unreadable)) << unreadable;
  EXPECT_THAT(std::string(unreadable.message()),
              HasSubstr("--shard_tls_key file " + dir.path() + "/missing.key"));
}

TEST(RoleOptionsTest, AdvertiseDefaultsToTheListenHostWithTheBoundPort) {
  auto options = ParseRoleFlags(Flags("data", "a:2379"));
  ASSERT_TRUE(options.ok());
  ASSERT_TRUE(ResolveAdvertise("127.0.0.1:0", 41234, &*options).ok());
  EXPECT_EQ(options->advertise, "127.0.0.1:41234");
  EXPECT_EQ(options->node_id, "127.0.0.1:41234");

  RoleFlags flags = Flags("data", "a:2379");
  flags.advertise = "data-0.data:7000";
  flags.node_id = "data-0";
  auto named = ParseRoleFlags(flags);
  ASSERT_TRUE(named.ok());
  ASSERT_TRUE(ResolveAdvertise("0.0.0.0:7000", 7000, &*named).ok());
  EXPECT_EQ(named->advertise, "data-0.data:7000");
  EXPECT_EQ(named->node_id, "data-0");

  for (const char* wildcard : {"0.0.0.0:7000", "[::]:7000", ":7000"}) {
    auto unnamed = ParseRoleFlags(Flags("data", "a:2379"));
    ASSERT_TRUE(unnamed.ok());
    absl::Status status = ResolveAdvertise(wildcard, 7000, &*unnamed);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << wildcard;
    EXPECT_THAT(std::string(status.message()), HasSubstr("set --advertise")) << wildcard;
  }
}

TEST(RoleOptionsTest, ADataNodeBeyondLoopbackNeedsMutualTlsOrAClusterKey) {
  EXPECT_TRUE(CheckInternalServiceExposure("127.0.0.1:7000", false, false).ok());
  EXPECT_TRUE(CheckInternalServiceExposure("localhost:7000", false, false).ok());
  const absl::Status open = CheckInternalServiceExposure("0.0.0.0:7000", false, false);
  EXPECT_EQ(open.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(open.message()), HasSubstr("--cluster_key_file"));
  EXPECT_TRUE(CheckInternalServiceExposure("0.0.0.0:7000", true, false).ok());
  EXPECT_TRUE(CheckInternalServiceExposure("10.1.2.3:7000", false, true).ok());
}

}  // namespace
}  // namespace adanns::cluster
