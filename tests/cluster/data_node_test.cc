// A real adanns-server with --role=data against a real etcd: it registers under its lease, leaves
// at once on SIGTERM, is expired by etcd after SIGKILL, and waits out an etcd that is down at
// start instead of exiting. Bad cluster flags stop it with a clear message.
#include <chrono>
#include <thread>

#include "adanns/v1/cluster.pb.h"
#include "cluster/etcd_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/eventually.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;

class DataNodeTest : public ::testing::Test {
 protected:
  std::vector<std::string> DataFlags() const {
    return {"--role=data", "--etcd=" + etcd_.endpoint(), "--cluster=t", "--lease_seconds=2"};
  }
  // The node's registration, if any.
  std::optional<v1::NodeRecord> Registered(const ServerProcess& server) {
    auto kv = client_->Get("/t/nodes/" + server.target());
    if (!kv.ok() || !kv->has_value()) return std::nullopt;
    v1::NodeRecord record;
    if (!record.ParseFromString((*kv)->value)) return std::nullopt;
    return record;
  }

  TempDir dir_;
  EtcdProcess etcd_{dir_.path()};
  std::unique_ptr<cluster::EtcdClient> client_ = etcd_.NewClient();
};

TEST_F(DataNodeTest, RegistersUnderItsLeaseAndLeavesAtOnceOnSigterm) {
  ServerProcess server(dir_.path() + "/node", DataFlags());
  ASSERT_TRUE(Eventually([&] { return Registered(server).has_value(); }, std::chrono::seconds(10)));
  const v1::NodeRecord record = *Registered(server);
  EXPECT_EQ(record.node_id(), server.target());
  EXPECT_EQ(record.address(), server.target());
  EXPECT_GT(record.started_unix_ms(), 0u);
  // Still registered after several TTLs: the lease is renewed.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_TRUE(Registered(server).has_value());
  const std::string key = "/t/nodes/" + server.target();
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_FALSE((*client_->Get(key)).has_value());
}

TEST_F(DataNodeTest, AKilledNodeIsExpiredByEtcd) {
  ServerProcess server(dir_.path() + "/node", DataFlags());
  ASSERT_TRUE(Eventually([&] { return Registered(server).has_value(); }, std::chrono::seconds(10)));
  const std::string key = "/t/nodes/" + server.target();
  server.Kill();
  EXPECT_TRUE((*client_->Get(key)).has_value());  // nobody revoked it
  EXPECT_TRUE(
      Eventually([&] { return !(*client_->Get(key)).has_value(); }, std::chrono::seconds(10)));
}

TEST_F(DataNodeTest, EtcdDownAtStartIsWaitedOutNotFatal) {
  etcd_.Stop();
  ServerProcess server(dir_.path() + "/node", DataFlags());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_TRUE(server.running());
  etcd_.Restart();
  EXPECT_TRUE(Eventually([&] { return Registered(server).has_value(); }, std::chrono::seconds(20)));
  EXPECT_EQ(server.Stop(), 0);
}

TEST(DataNodeFlagsTest, BadClusterFlagsStopTheServerWithAClearMessage) {
  TempDir dir;
  struct Case {
    std::string flags;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"--etcd=127.0.0.1:2379", "--etcd is for --role=data or router"},
      {"--role=data", "needs --etcd"},
      {"--role=primary --etcd=127.0.0.1:2379", "--role"},
      {"--role=data --etcd=nohost", "HOST:PORT"},
      {"--role=data --etcd=127.0.0.1:2379 --listen=0.0.0.0:0", "needs mutual TLS"},
      {"--etcd_ca=" + dir.path() + "/ca.pem", "--etcd_ca"},
      {"--shard_tls_ca=/ca.pem", "are for --role=router or data"},
      {"--role=router --etcd=127.0.0.1:2379 --etcd_ca=/ca.pem --etcd_key=/k.pem",
       "--etcd_cert and --etcd_key go together"},
      {"--role=router --etcd=127.0.0.1:2379 --shard_tls_ca=" + dir.path() + "/missing.pem",
       "cannot read the --shard_tls_ca file " + dir.path() + "/missing.pem"},
  };
  for (const Case& c : cases) {
    std::string output;
    const int code =
        RunCommand(ServerBinary() + " --data_dir=" + dir.path() +
                       "/d --metrics_listen= --listen=127.0.0.1:0 " + c.flags + " 2>&1",
                   &output);
    EXPECT_EQ(code, 1) << c.flags;
    EXPECT_THAT(output, HasSubstr("bad flags: ")) << c.flags;
    EXPECT_THAT(output, HasSubstr(c.message)) << c.flags;
  }
}

}  // namespace
}  // namespace adanns::testing
