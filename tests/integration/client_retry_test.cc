// The C++ client's retries against the real adanns-server process: idempotent calls (Search, Get,
// an Upsert) ride through a server restart on the same port and data dir; against a server that
// stays down they end with UNAVAILABLE once the retry time is spent; non-idempotent calls are
// never retried.
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::adanns::v1;

constexpr uint32_t kDim = 4;

class ClientRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(data_dir());
    client::ClientOptions options;
    // Far more than a restart takes even on a loaded machine (the default is 10 s).
    options.retry.max_retry_time = std::chrono::seconds(60);
    options.on_retry = [this](int, const absl::Status&, std::chrono::milliseconds) { ++retries_; };
    absl::StatusOr<std::unique_ptr<client::Client>> connected =
        client::Client::Connect(server_->target(), options);
    ASSERT_TRUE(connected.ok()) << connected.status();
    client_ = std::move(*connected);

    v1::CreateCollectionRequest create;
    create.set_name("docs");
    create.set_dim(kDim);
    create.set_metric(v1::L2);
    ASSERT_TRUE(client_->CreateCollection(create).ok());
    // Row i = (i, 0, 0, 0) with id 100 + i.
    std::vector<float> rows;
    for (int i = 0; i < 10; ++i) rows.insert(rows.end(), {float(i), 0, 0, 0});
    absl::StatusOr<uint64_t> upserted = client_->UpsertRows("docs", 100, rows.data(), 10, kDim);
    ASSERT_TRUE(upserted.ok()) << upserted.status();
    ASSERT_EQ(*upserted, 10u);
  }

  std::string data_dir() const { return dir_.path() + "/data"; }

  // Stops the server now and starts it again on the same port and data dir after `down_for`,
  // on another thread (join the returned thread).
  std::thread RestartAfter(std::chrono::milliseconds down_for) {
    const int port = server_->port();
    EXPECT_EQ(server_->Stop(), 0);
    return std::thread([this, port, down_for] {
      std::this_thread::sleep_for(down_for);
      try {
        // The last --listen wins over ServerProcess' own 127.0.0.1:0.
        server_ = std::make_unique<ServerProcess>(
            data_dir(), std::vector<std::string>{"--listen=127.0.0.1:" + std::to_string(port)});
      } catch (const std::exception& error) {
        ADD_FAILURE() << "restart on port " << port << ": " << error.what();
      }
    });
  }

  static v1::SearchRequest NearestTo(float x) {
    v1::SearchRequest search;
    search.set_collection("docs");
    for (float value : {x, 0.f, 0.f, 0.f}) search.add_query(value);
    search.set_k(1);
    return search;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::Client> client_;
  std::atomic<int> retries_{0};
};

TEST_F(ClientRetryTest, SearchAndGetRideThroughARestart) {
  std::thread restart = RestartAfter(std::chrono::milliseconds(700));
  absl::StatusOr<v1::SearchResponse> found = client_->Search(NearestTo(3.2f));
  restart.join();
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->hits_size(), 1);
  EXPECT_EQ(found->hits(0).id(), 103u);
  EXPECT_GE(retries_.load(), 1) << "the server was down: the first attempt cannot have worked";

  retries_ = 0;
  restart = RestartAfter(std::chrono::milliseconds(700));
  v1::GetRequest get;
  get.set_collection("docs");
  get.add_ids(107);
  absl::StatusOr<v1::GetResponse> got = client_->Get(get);
  restart.join();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->vectors_size(), 1);
  EXPECT_EQ(got->vectors(0).values(0), 7.0f);
  EXPECT_GE(retries_.load(), 1);
}

TEST_F(ClientRetryTest, UpsertIsResentOnANewStreamAfterARestart) {
  std::thread restart = RestartAfter(std::chrono::milliseconds(700));
  v1::UpsertRequest message;
  message.set_collection("docs");
  for (uint64_t id : {200, 201}) {
    v1::Vector* vector = message.add_vectors();
    vector->set_id(id);
    for (float value : {float(id), 0.f, 0.f, 0.f}) vector->add_values(value);
  }
  absl::StatusOr<v1::UpsertResponse> upserted = client_->Upsert({message});
  restart.join();
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  EXPECT_EQ(upserted->upserted(), 2u);
  EXPECT_GE(retries_.load(), 1);

  absl::StatusOr<v1::SearchResponse> found = client_->Search(NearestTo(201.f));
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->hits_size(), 1);
  EXPECT_EQ(found->hits(0).id(), 201u);
}

TEST_F(ClientRetryTest, AServerThatStaysDownFailsWithUnavailableOnceTheRetryTimeIsSpent) {
  // A client of its own with a short retry time, connected before the server goes down for good.
  client::ClientOptions options;
  options.retry.max_retry_time = std::chrono::milliseconds(1500);
  options.on_retry = [this](int, const absl::Status&, std::chrono::milliseconds) { ++retries_; };
  absl::StatusOr<std::unique_ptr<client::Client>> connected =
      client::Client::Connect(server_->target(), options);
  ASSERT_TRUE(connected.ok()) << connected.status();
  server_->Kill();

  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = (*connected)->Search(NearestTo(1)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("gave up after"));
  EXPECT_GE(retries_.load(), 2);
  // Bounded: 1.5 s of retries plus the last attempt, checked against a far larger bound.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(ClientRetryTest, NonIdempotentCallsAreNotRetried) {
  server_->Kill();
  v1::CreateCollectionRequest create;
  create.set_name("other");
  create.set_dim(kDim);
  create.set_metric(v1::L2);
  const absl::Status created = client_->CreateCollection(create).status();
  EXPECT_EQ(created.code(), absl::StatusCode::kUnavailable) << created;
  EXPECT_THAT(created.message(), ::testing::Not(HasSubstr("gave up after")));

  v1::DropCollectionRequest drop;
  drop.set_name("docs");
  EXPECT_EQ(client_->DropCollection(drop).status().code(), absl::StatusCode::kUnavailable);
  v1::BuildIndexRequest build;
  build.set_collection("docs");
  EXPECT_EQ(client_->BuildIndex(build).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(retries_.load(), 0);
}

}  // namespace
}  // namespace adanns::testing
