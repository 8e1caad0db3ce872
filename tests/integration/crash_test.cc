// SIGKILL right after acknowledged writes loses nothing: every acknowledged upsert is back with
// identical bytes, every acknowledged delete stays deleted, and a message in flight at the kill
// is all there or not there at all.
#include <atomic>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 16;
constexpr size_t kPerMessage = 50;

std::vector<float> VectorFor(uint64_t id, uint32_t version) {
  std::vector<float> v(kDim);
  std::mt19937 rng(static_cast<uint32_t>(id * 31 + version));
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (float& x : v) x = uniform(rng);
  return v;
}

v1::UpsertRequest Message(uint64_t first_id, uint32_t version) {
  v1::UpsertRequest message;
  message.set_collection("crash");
  for (uint64_t id = first_id; id < first_id + kPerMessage; ++id) {
    v1::Vector* v = message.add_vectors();
    v->set_id(id);
    const std::vector<float> values = VectorFor(id, version);
    v->mutable_values()->Add(values.begin(), values.end());
  }
  return message;
}

// Streams the messages; true when the whole stream was acknowledged.
bool Upsert(v1::Adanns::Stub& stub, const std::vector<v1::UpsertRequest>& messages) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::UpsertResponse response;
  auto writer = stub.Upsert(&context, &response);
  for (const auto& m : messages) {
    if (!writer->Write(m)) break;
  }
  writer->WritesDone();
  return writer->Finish().ok();
}

std::map<uint64_t, std::vector<float>> GetAll(v1::Adanns::Stub& stub, uint64_t max_id) {
  v1::GetRequest request;
  request.set_collection("crash");
  for (uint64_t id = 0; id < max_id; ++id) request.add_ids(id);
  v1::GetResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(stub.Get(&context, request, &response).ok());
  std::map<uint64_t, std::vector<float>> found;
  for (const v1::Vector& v : response.vectors()) {
    found[v.id()] = std::vector<float>(v.values().begin(), v.values().end());
  }
  return found;
}

bool SameBytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  const std::string data_dir = dir.path() + "/data";
  {
    ServerProcess server(data_dir);
    auto stub = server.NewStub();
    v1::CreateCollectionRequest create;
    create.set_name("crash");
    create.set_dim(kDim);
    create.set_metric(v1::L2);
    v1::CollectionInfo info;
    grpc::ClientContext context;
    ASSERT_TRUE(stub->CreateCollection(&context, create, &info).ok());
    server.Kill();
  }

  std::map<uint64_t, uint32_t> acknowledged;  // id -> version it must hold
  std::set<uint64_t> deleted;
  uint64_t next_id = 0;
  constexpr int kCycles = 4;
  for (int cycle = 0; cycle <= kCycles; ++cycle) {
    ServerProcess server(data_dir);
    auto stub = server.NewStub();

    // Everything acknowledged so far is back, byte for byte; deletes stay deleted.
    const auto stored = GetAll(*stub, next_id + 1000);
    for (const auto& [id, version] : acknowledged) {
      auto it = stored.find(id);
      ASSERT_NE(it, stored.end()) << "acknowledged id " << id << " lost in cycle " << cycle;
      EXPECT_TRUE(SameBytes(it->second, VectorFor(id, version))) << "id " << id;
    }
    for (uint64_t id : deleted)
      EXPECT_EQ(stored.count(id), 0u) << "deleted id " << id << " is back";
    // Unacknowledged in-flight messages are whole or absent (each 50-id block).
    size_t whole_unacknowledged = 0;
    for (uint64_t block = 0; block < next_id + 1000; block += kPerMessage) {
      size_t present = 0;
      for (uint64_t id = block; id < block + kPerMessage; ++id) present += stored.count(id);
      if (!acknowledged.count(block) && !deleted.count(block)) {
        EXPECT_TRUE(present == 0 || present == kPerMessage) << "half-applied block " << block;
        whole_unacknowledged += present == kPerMessage;
      }
    }
    std::cout << "cycle " << cycle << ": " << acknowledged.size() << " acknowledged vectors back, "
              << deleted.size() << " deletes held, " << whole_unacknowledged
              << " in-flight blocks landed whole\n";

    if (cycle == kCycles) break;  // the last start only verifies

    // New acknowledged writes: fresh ids, and a new version of old ones.
    std::vector<std::pair<uint64_t, uint32_t>> blocks;  // (first id, version)
    for (int m = 0; m < 4; ++m, next_id += kPerMessage) blocks.emplace_back(next_id, cycle);
    if (cycle > 0) blocks.emplace_back(100, cycle + 100);  // a new version of ids 100..149
    std::vector<v1::UpsertRequest> messages;
    for (const auto& [first, version] : blocks) messages.push_back(Message(first, version));
    ASSERT_TRUE(Upsert(*stub, messages));
    for (const auto& [first, version] : blocks) {
      for (uint64_t id = first; id < first + kPerMessage; ++id) {
        acknowledged[id] = version;
        deleted.erase(id);
      }
    }
    v1::DeleteRequest del;
    del.set_collection("crash");
    const uint64_t victim = next_id - 3;
    del.add_ids(victim);
    v1::DeleteResponse del_response;
    grpc::ClientContext del_context;
    ASSERT_TRUE(stub->Delete(&del_context, del, &del_response).ok());
    acknowledged.erase(victim);
    deleted.insert(victim);

    // A writer keeps streaming unacknowledged blocks above the acknowledged range while the
    // server is killed.
    std::atomic<bool> stop{false};
    std::thread in_flight([&, base = next_id + 200] {
      for (uint64_t block = base; !stop && block < base + 20 * kPerMessage; block += kPerMessage) {
        Upsert(*stub, {Message(block, 7)});
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 15 * cycle));
    server.Kill();
    stop = true;
    in_flight.join();
    next_id += 1200;  // keep in-flight blocks out of the next cycle's fresh ids
  }
  EXPECT_GT(acknowledged.size(), 600u);
}

}  // namespace
}  // namespace adanns::testing
