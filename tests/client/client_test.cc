// Client against an in-process fake service: status mapping, connection errors, and how
// UpsertRows / UpsertFromReader split streams into messages.
#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <mutex>
#include <thread>
#include <vector>

#include "client/readers/npy_writer.h"
#include "client/readers/vector_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_util.h"

namespace adanns::client {
namespace {

using ::adanns::testing::MessageOf;
using ::adanns::testing::TempDir;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Le;

// Records every Upsert message; rejects a message holding kPoisonId the way the real server
// does (nothing of it written, the stream ends with the error).
class FakeAdanns final : public v1::Adanns::Service {
 public:
  static constexpr uint64_t kPoisonId = 666;

  grpc::Status CreateCollection(grpc::ServerContext*, const v1::CreateCollectionRequest* request,
                                v1::CollectionInfo* response) override {
    if (request->name() == "taken") {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "collection 'taken' already exists");
    }
    response->set_name(request->name());
    response->set_dim(request->dim());
    response->set_metric(request->metric());
    return grpc::Status::OK;
  }

  grpc::Status Upsert(grpc::ServerContext*, grpc::ServerReader<v1::UpsertRequest>* reader,
                      v1::UpsertResponse* response) override {
    v1::UpsertRequest request;
    uint64_t committed = 0;
    while (reader->Read(&request)) {
      std::lock_guard<std::mutex> lock(mutex_);
      message_sizes_.push_back(request.vectors_size());
      message_bytes_.push_back(request.ByteSizeLong());
      for (const v1::Vector& vector : request.vectors()) {
        if (vector.id() == kPoisonId) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "vector 666 is poisoned; " + std::to_string(committed) +
                                  " vectors of earlier messages were committed");
        }
      }
      for (const v1::Vector& vector : request.vectors()) {
        vectors_.push_back(vector);
      }
      committed += request.vectors_size();
    }
    response->set_upserted(committed);
    return grpc::Status::OK;
  }

  std::vector<int> message_sizes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return message_sizes_;
  }
  std::vector<size_t> message_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return message_bytes_;
  }
  std::vector<v1::Vector> vectors() {
    std::lock_guard<std::mutex> lock(mutex_);
    return vectors_;
  }

 private:
  std::mutex mutex_;
  std::vector<int> message_sizes_;
  std::vector<size_t> message_bytes_;
  std::vector<v1::Vector> vectors_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<Client> Connect(const ClientOptions& options = {}) {
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect("127.0.0.1:" + std::to_string(port_), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Rows whose values encode their position, so any reordering shows.
  static std::vector<float> Rows(size_t count, uint32_t dim) {
    std::vector<float> rows(count * dim);
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i] = static_cast<float>(i) * 0.5f + 0.25f;
    }
    return rows;
  }

  FakeAdanns service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(ClientTest, MapsStatusesOneToOne) {
  std::unique_ptr<Client> client = Connect();
  v1::CreateCollectionRequest request;
  request.set_name("docs");
  request.set_dim(8);
  request.set_metric(v1::COSINE);
  absl::StatusOr<v1::CollectionInfo> info = client->CreateCollection(request);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name(), "docs");
  EXPECT_EQ(info->metric(), v1::COSINE);

  request.set_name("taken");
  const absl::Status taken = client->CreateCollection(request).status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(MessageOf(taken), "collection 'taken' already exists");

  EXPECT_EQ(client->ListCollections().status().code(), absl::StatusCode::kUnimplemented);
}

TEST(ClientConnectTest, NoServerIsUnavailable) {
  ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(300);
  // Port 1 is privileged and unused here: the connection is refused.
  const absl::Status status = Client::Connect("127.0.0.1:1", options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(MessageOf(status), HasSubstr("no adanns server answered at 127.0.0.1:1"));
}

TEST_F(ClientTest, UpsertRowsSplitsMessagesUnderTheByteBudget) {
  ClientOptions options;
  options.upsert_message_bytes = 1000;
  std::unique_ptr<Client> client = Connect(options);
  constexpr uint32_t kDim = 8;
  constexpr size_t kCount = 101;
  const std::vector<float> rows = Rows(kCount, kDim);
  std::vector<uint64_t> progress;
  absl::StatusOr<uint64_t> upserted = client->UpsertRows("docs", 5000, rows.data(), kCount, kDim,
                                                         [&](uint64_t sent, uint64_t total) {
                                                           EXPECT_EQ(total, kCount);
                                                           progress.push_back(sent);
                                                         });
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  EXPECT_EQ(*upserted, kCount);
  // (1000 - 6 - 4 bytes of name) / (23 + 32 bytes per vector) = 18 per message.
  EXPECT_EQ(*client->VectorsPerUpsertMessage("docs", kDim), 18u);
  EXPECT_THAT(service_.message_sizes(), ElementsAre(18, 18, 18, 18, 18, 11));
  EXPECT_THAT(service_.message_bytes(), Each(Le(1000u)));
  EXPECT_THAT(progress, ElementsAre(18, 36, 54, 72, 90, 101));
  const std::vector<v1::Vector> vectors = service_.vectors();
  ASSERT_EQ(vectors.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(vectors[i].id(), 5000 + i);
    ASSERT_EQ(vectors[i].values_size(), static_cast<int>(kDim));
    for (uint32_t j = 0; j < kDim; ++j) {
      EXPECT_EQ(vectors[i].values(j), rows[i * kDim + j]);
    }
  }
}

TEST_F(ClientTest, UpsertRowsNeverExceedsTheServerVectorLimit) {
  std::unique_ptr<Client> client = Connect();
  const std::vector<float> rows(250000, 1.0f);
  absl::StatusOr<uint64_t> upserted = client->UpsertRows("docs", 1000000, rows.data(), 250000, 1);
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  EXPECT_EQ(*upserted, 250000u);
  EXPECT_THAT(service_.message_sizes(), ElementsAre(100000, 100000, 50000));
}

TEST_F(ClientTest, UpsertReturnsTheServersError) {
  ClientOptions options;
  options.upsert_message_bytes = 1000;
  std::unique_ptr<Client> client = Connect(options);
  const std::vector<float> rows = Rows(100, 8);
  // Ids 640..739: the message holding 666 (the second) is rejected.
  const absl::Status status = client->UpsertRows("docs", 640, rows.data(), 100, 8).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MessageOf(status),
            "vector 666 is poisoned; 18 vectors of earlier messages were committed");
}

TEST_F(ClientTest, UpsertFromReaderStreamsTheFile) {
  TempDir dir;
  const std::string path = dir.File("base.npy");
  const std::vector<float> rows = Rows(37, 3);
  ASSERT_TRUE(readers::WriteNpy(path, 37, 3, rows.data()).ok());
  absl::StatusOr<std::unique_ptr<readers::VectorReader>> reader = readers::OpenVectorFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ClientOptions options;
  options.upsert_message_bytes = 300;  // (300 - 10) / 35 = 8 vectors per message
  std::unique_ptr<Client> client = Connect(options);
  uint64_t last_progress = 0;
  absl::StatusOr<uint64_t> upserted =
      client->UpsertFromReader("docs", **reader, 1000, [&](uint64_t sent, uint64_t total) {
        EXPECT_EQ(total, 37u);
        last_progress = sent;
      });
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  EXPECT_EQ(*upserted, 37u);
  EXPECT_EQ(last_progress, 37u);
  EXPECT_THAT(service_.message_sizes(), ElementsAre(8, 8, 8, 8, 5));
  const std::vector<v1::Vector> vectors = service_.vectors();
  ASSERT_EQ(vectors.size(), 37u);
  for (size_t i = 0; i < 37; ++i) {
    EXPECT_EQ(vectors[i].id(), 1000 + i);
    EXPECT_THAT(vectors[i].values(), ElementsAre(rows[i * 3], rows[i * 3 + 1], rows[i * 3 + 2]));
  }
}

TEST_F(ClientTest, RejectsVectorsLargerThanTheMessageLimit) {
  ClientOptions options;
  options.max_message_bytes = 1 << 20;
  std::unique_ptr<Client> client = Connect(options);
  const absl::Status status = client->VectorsPerUpsertMessage("docs", 300000).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), HasSubstr("one vector of dim 300000 needs up to 1200033 bytes"));
}

}  // namespace
}  // namespace adanns::client
