// Backups over a real loopback server: a snapshot taken while the server runs restores (offline,
// into a fresh data dir) to a server that answers the same searches with the same index, and
// holds nothing written after it; names cannot escape the snapshot root.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "server/snapshots.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 16;

class SnapshotTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    options.service.snapshot_root = dir_.path() + "/snapshots";
    options.auto_calibrate = false;
  }

  grpc::Status Snapshot(const std::string& name, v1::SnapshotInfo* info) {
    v1::CreateSnapshotRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    return stub_->CreateSnapshot(&context, request, info);
  }

  static v1::SearchResponse SearchIvf(v1::Adanns::Stub& stub, const std::vector<float>& query) {
    v1::SearchRequest request;
    request.set_collection("c");
    request.mutable_query()->Add(query.begin(), query.end());
    request.set_k(10);
    request.mutable_budget()->mutable_plan()->set_index("ivf");
    request.mutable_budget()->mutable_plan()->set_nprobe(4);
    v1::SearchResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub.Search(&context, request, &response).ok());
    return response;
  }
};

TEST_F(SnapshotTest, RestoredServerAnswersAsAtTheSnapshot) {
  ASSERT_EQ(Create("c", kDim, v1::L2), grpc::StatusCode::OK);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  auto upsert = [&](uint64_t first, size_t count) {
    v1::UpsertRequest message;
    message.set_collection("c");
    for (size_t i = 0; i < count; ++i) {
      v1::Vector* v = message.add_vectors();
      v->set_id(first + i);
      for (uint32_t j = 0; j < kDim; ++j) v->add_values(normal(rng));
    }
    v1::UpsertResponse response;
    return UpsertMessage(message, &response);
  };
  ASSERT_TRUE(upsert(0, 800).ok());
  v1::BuildIndexRequest build;
  build.set_collection("c");
  build.mutable_ivf()->set_nlist(16);
  v1::BuildIndexResponse started;
  grpc::ClientContext build_context;
  ASSERT_TRUE(stub_->BuildIndex(&build_context, build, &started).ok());
  for (int attempt = 0; attempt < 300; ++attempt) {  // bounded: 30 s
    v1::DescribeCollectionRequest describe;
    describe.set_name("c");
    v1::CollectionInfo info;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DescribeCollection(&context, describe, &info).ok());
    if (info.indexes(1).state() == "ready") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<float> query(kDim);
  for (float& x : query) x = normal(rng);
  const v1::SearchResponse before = SearchIvf(*stub_, query);
  ASSERT_EQ(before.hits_size(), 10);

  v1::SnapshotInfo info;
  ASSERT_TRUE(Snapshot("nightly-1", &info).ok());
  EXPECT_EQ(info.name(), "nightly-1");
  EXPECT_GT(info.bytes(), 800u * kDim * 4);
  EXPECT_EQ(Snapshot("nightly-1", &info).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  for (const char* bad : {"../escape", ".hidden", "a/b", "/etc", "cut.tmp"}) {
    EXPECT_EQ(Snapshot(bad, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  // What a kill during a checkpoint leaves: RocksDB's staging dir with a half-written CURRENT.
  // It is not listed, and the name it was for can be taken.
  std::filesystem::create_directories(dir_.path() + "/snapshots/cut.tmp");
  std::ofstream(dir_.path() + "/snapshots/cut.tmp/CURRENT") << "MANIFEST-0000";
  ASSERT_TRUE(Snapshot("", &info).ok());  // a timestamped name
  EXPECT_EQ(info.name().rfind("snapshot-", 0), 0u);
  v1::ListSnapshotsResponse listed;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListSnapshots(&list_context, v1::ListSnapshotsRequest(), &listed).ok());
  ASSERT_EQ(listed.snapshots_size(), 2);
  EXPECT_EQ(listed.snapshots(0).name(), "nightly-1");
  ASSERT_TRUE(Snapshot("cut", &info).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/snapshots/cut.tmp"));

  // Written after the snapshot: not in the restore.
  ASSERT_TRUE(upsert(5000, 50).ok());

  const std::string restored_dir = dir_.path() + "/restored";
  ASSERT_TRUE(server::RestoreSnapshot(dir_.path() + "/snapshots/nightly-1", restored_dir).ok());
  EXPECT_EQ(server::RestoreSnapshot(dir_.path() + "/snapshots/nightly-1", restored_dir).code(),
            absl::StatusCode::kFailedPrecondition);  // not an empty data dir
  EXPECT_EQ(server::RestoreSnapshot(dir_.path(), dir_.path() + "/other").code(),
            absl::StatusCode::kNotFound);  // not a snapshot
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = restored_dir;
  options.metrics_listen = "";
  auto restored = server::AdannsServer::Start(options);
  ASSERT_TRUE(restored.ok()) << restored.status();
  auto stub = v1::Adanns::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*restored)->port()), grpc::InsecureChannelCredentials()));
  v1::DescribeCollectionRequest describe;
  describe.set_name("c");
  v1::CollectionInfo restored_info;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->DescribeCollection(&context, describe, &restored_info).ok());
  EXPECT_EQ(restored_info.vector_count(), 800u);
  ASSERT_EQ(restored_info.indexes_size(), 2);
  EXPECT_EQ(restored_info.indexes(1).state(), "ready");
  const v1::SearchResponse after = SearchIvf(*stub, query);
  ASSERT_EQ(after.hits_size(), before.hits_size());
  for (int i = 0; i < before.hits_size(); ++i) {
    EXPECT_EQ(after.hits(i).id(), before.hits(i).id());
    EXPECT_EQ(after.hits(i).score(), before.hits(i).score());
  }
}

class NoSnapshotRootTest : public InProcessServerTest {};

TEST_F(NoSnapshotRootTest, SnapshotsAreRefusedWhenDisabled) {
  v1::SnapshotInfo info;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->CreateSnapshot(&context, v1::CreateSnapshotRequest(), &info).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace adanns::testing
