// EtcdClient, EtcdPrefixWatch and LeaseRegistration against a real etcd on loopback.
#include "cluster/etcd_client.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "cluster/etcd_watch.h"
#include "cluster/lease_registration.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/eventually.h"
#include "tests/common/temp_dir.h"

namespace adanns::cluster {
namespace {

using ::adanns::testing::EtcdProcess;
using ::adanns::testing::Eventually;
using ::adanns::testing::FreeLoopbackPort;
using ::adanns::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EtcdClientTest : public ::testing::Test {
 protected:
  TempDir dir_;
  EtcdProcess etcd_{dir_.path()};
  std::unique_ptr<EtcdClient> client_ = etcd_.NewClient();
};

TEST_F(EtcdClientTest, PutGetPrefixAndDelete) {
  ASSERT_TRUE(client_->Put("/t/a/1", "one").ok());
  ASSERT_TRUE(client_->Put("/t/a/2", "two").ok());
  absl::StatusOr<int64_t> last = client_->Put("/t/b/1", "other");
  ASSERT_TRUE(last.ok()) << last.status();

  absl::StatusOr<EtcdRange> range = client_->GetPrefix("/t/a/");
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/t/a/1");
  EXPECT_EQ(range->kvs[0].value, "one");
  EXPECT_EQ(range->kvs[1].value, "two");
  EXPECT_GE(range->revision, *last);

  auto got = client_->Get("/t/b/1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "other");
  EXPECT_EQ((*got)->mod_revision, *last);
  EXPECT_EQ(*client_->Delete("/t/b/1"), 1);
  EXPECT_EQ(*client_->Delete("/t/b/1"), 0);
  got = client_->Get("/t/b/1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(EtcdClientTest, BinaryKeysAndAPrefixEndingIn0xffStayInTheirRange) {
  const std::string prefix = std::string("/t/\xff", 4);
  ASSERT_TRUE(client_->Put(prefix + "x", std::string("\0v", 2)).ok());
  ASSERT_TRUE(client_->Put("/t/\xfe", "before").ok());
  ASSERT_TRUE(client_->Put("/u", "after").ok());
  absl::StatusOr<EtcdRange> range = client_->GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].value, std::string("\0v", 2));
  EXPECT_EQ(EtcdPrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(EtcdPrefixRangeEnd("\xff\xff"), std::string(1, '\0'));
}

TEST_F(EtcdClientTest, CompareAndPutLetsExactlyOneWriterWin) {
  constexpr int kWriters = 8;
  std::atomic<int> winners{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      absl::StatusOr<bool> won = client_->CompareAndPut("/t/map", "writer" + std::to_string(w), 0);
      if (!won.ok()) {
        ++failures;
      } else if (*won) {
        ++winners;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(winners.load(), 1);

  auto current = client_->Get("/t/map");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_THAT((*current)->value, HasSubstr("writer"));
  // A swap against the revision read wins once; the same stale revision then loses.
  EXPECT_TRUE(*client_->CompareAndPut("/t/map", "next", (*current)->mod_revision));
  EXPECT_FALSE(*client_->CompareAndPut("/t/map", "stale", (*current)->mod_revision));
  EXPECT_EQ((*client_->Get("/t/map"))->value, "next");
}

TEST_F(EtcdClientTest, ALeasedKeyVanishesWhenItsLeaseEndsAndAnExpiredLeaseIsNotFound) {
  absl::StatusOr<int64_t> lease = client_->GrantLease(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client_->Put("/t/leased", "x", *lease).ok());
  EXPECT_EQ((*client_->Get("/t/leased"))->lease, *lease);
  absl::StatusOr<int64_t> ttl = client_->KeepAlive(*lease);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GE(*ttl, 2);
  // Not renewed: etcd expires it (TTL 2 s, plus its expiry check's granularity).
  EXPECT_TRUE(Eventually([&] { return !client_->Get("/t/leased")->has_value(); },
                         std::chrono::seconds(10)));
  EXPECT_TRUE(absl::IsNotFound(client_->KeepAlive(*lease).status()));

  absl::StatusOr<int64_t> revoked = client_->GrantLease(absl::Seconds(60));
  ASSERT_TRUE(revoked.ok());
  ASSERT_TRUE(client_->Put("/t/revoked", "x", *revoked).ok());
  ASSERT_TRUE(client_->RevokeLease(*revoked).ok());
  EXPECT_FALSE(client_->Get("/t/revoked")->has_value());
}

TEST_F(EtcdClientTest, ARegistrationOutlivesItsTtlReregistersAfterLosingItsLeaseAndLeavesAtOnce) {
  auto registration =
      LeaseRegistration::Start(client_.get(), "/t/nodes/n1", "addr", absl::Seconds(2));
  ASSERT_TRUE(registration.ok()) << registration.status();
  // A second process claiming the same key is refused while the first one lives.
  absl::Status twice =
      LeaseRegistration::Start(client_.get(), "/t/nodes/n1", "other", absl::Seconds(2)).status();
  EXPECT_TRUE(absl::IsAlreadyExists(twice)) << twice;
  EXPECT_EQ((*client_->Get("/t/nodes/n1"))->value, "addr");
  // Three TTLs later the key is still there: the lease is being renewed.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_TRUE(client_->Get("/t/nodes/n1")->has_value());
  EXPECT_EQ((*registration)->re_registrations(), 0);

  // The lease ends behind its back (as after an etcd outage longer than the TTL): the key comes
  // back under a new lease, which the registration then holds (it records the new lease just
  // after the key's put, so both are awaited).
  const int64_t first_lease = (*registration)->lease();
  ASSERT_TRUE(client_->RevokeLease(first_lease).ok());
  EXPECT_TRUE(Eventually(
      [&] {
        auto node = client_->Get("/t/nodes/n1");
        return node.ok() && node->has_value() && (*node)->lease != first_lease &&
               (*registration)->lease() == (*node)->lease;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ((*registration)->re_registrations(), 1);

  registration->reset();
  EXPECT_FALSE(client_->Get("/t/nodes/n1")->has_value());
}

TEST_F(EtcdClientTest, APrefixWatchFollowsPutsAndDeletesAndSurvivesAnEtcdRestart) {
  ASSERT_TRUE(client_->Put("/t/w/a", "1").ok());
  ASSERT_TRUE(client_->Put("/t/x", "outside").ok());
  std::atomic<int> notifications{0};
  EtcdPrefixWatch watch(client_.get(), "/t/w/",
                        [&](const EtcdPrefixWatch::Snapshot&) { ++notifications; });
  ASSERT_TRUE(watch.AwaitSynced(absl::Seconds(10)).ok());
  EXPECT_EQ(watch.Current().size(), 1u);

  ASSERT_TRUE(client_->Put("/t/w/b", "2").ok());
  ASSERT_TRUE(client_->Put("/t/w/a", "1'").ok());
  ASSERT_EQ(*client_->Delete("/t/w/b"), 1);
  const int64_t last = *client_->Put("/t/w/c", "3");
  ASSERT_TRUE(watch.AwaitRevision(last, absl::Seconds(10)).ok());
  EtcdPrefixWatch::Snapshot seen = watch.Current();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at("/t/w/a").value, "1'");
  EXPECT_EQ(seen.at("/t/w/c").value, "3");
  EXPECT_GE(notifications.load(), 2);

  etcd_.Stop();
  etcd_.Restart();
  ASSERT_TRUE(client_->Delete("/t/w/c").ok());
  const absl::StatusOr<int64_t> after = client_->Put("/t/w/d", "4");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_TRUE(watch.AwaitRevision(*after, absl::Seconds(20)).ok());
  seen = watch.Current();
  std::vector<std::string> keys;
  for (const auto& [key, kv] : seen) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("/t/w/a", "/t/w/d"));
}

TEST(EtcdClientUnreachableTest, NoMemberAnsweringIsUnavailableNamingTheEndpoints) {
  EtcdOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(FreeLoopbackPort())};
  options.call_timeout = absl::Seconds(1);
  auto client = EtcdClient::Create(options);
  ASSERT_TRUE(client.ok());
  absl::Status status = (*client)->Put("/k", "v").status();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(options.endpoints[0]));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no member"));
}

TEST(EtcdClientUnreachableTest, ADeadFirstMemberFailsOverToTheNext) {
  TempDir dir;
  EtcdProcess etcd(dir.path());
  EtcdOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(FreeLoopbackPort()), etcd.endpoint()};
  options.call_timeout = absl::Seconds(1);
  auto client = EtcdClient::Create(options);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->Put("/k", "v").ok());
  EXPECT_EQ((*(*client)->Get("/k"))->value, "v");
}

TEST(EtcdEndpointsTest, ParsesTheFlagAndNamesABadEntry) {
  auto endpoints = ParseEtcdEndpoints("etcd-0.etcd:2379,127.0.0.1:2380");
  ASSERT_TRUE(endpoints.ok());
  EXPECT_THAT(*endpoints, ElementsAre("etcd-0.etcd:2379", "127.0.0.1:2380"));
  for (const char* bad : {"", "host", "host:", ":2379", "host:0", "host:70000", "a:1,,b:2"}) {
    absl::Status status = ParseEtcdEndpoints(bad).status();
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("HOST:PORT")) << bad;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(EtcdClient::Create(EtcdOptions{}).status()));
}

}  // namespace
}  // namespace adanns::cluster
