// SIGKILL right after acknowledged writes loses nothing: every acknowledged upsert is back with
// identical bytes, every acknowledged delete stays deleted, and a message in flight at the kill
// is all there or not there at all.
#include <atomic>
#include <iostream>
#include <map>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kDim = 16;
constexpr size_t kPerMessage = 50;

Write Block(uint64_t first_id, uint32_t version) {
  Write write{.ids = {}, .version = version};
  for (uint64_t id = first_id; id < first_id + kPerMessage; ++id) write.ids.push_back(id);
  return write;
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

  AcknowledgedWrites ledger(kDim);
  uint64_t next_id = 0;
  constexpr int kCycles = 4;
  for (int cycle = 0; cycle <= kCycles; ++cycle) {
    ServerProcess server(data_dir);
    auto stub = server.NewStub();

    // Everything acknowledged so far is back, byte for byte; deletes stay deleted; messages in
    // flight at the kill landed whole or not at all.
    std::map<uint64_t, std::vector<float>> stored;
    ASSERT_TRUE(GetVectors(*stub, "crash", ledger.TouchedIds(), &stored));
    const CheckReport report = ledger.Check(stored);
    EXPECT_TRUE(report.clean()) << report.first_error << " in cycle " << cycle;
    std::cout << "cycle " << cycle << ": " << report.acknowledged << " acknowledged vectors back, "
              << report.in_flight_landed << " of " << report.in_flight
              << " in-flight messages landed whole\n";

    if (cycle == kCycles) break;  // the last start only verifies

    // New acknowledged writes: fresh ids, and a new version of old ones.
    std::vector<Write> writes;
    for (int m = 0; m < 4; ++m, next_id += kPerMessage) writes.push_back(Block(next_id, cycle));
    if (cycle > 0) writes.push_back(Block(100, cycle + 100));  // a new version of ids 100..149
    std::vector<v1::UpsertRequest> messages;
    for (const Write& write : writes) messages.push_back(UpsertMessage("crash", write, kDim));
    ASSERT_TRUE(UpsertStream(*stub, messages).ok());
    for (const Write& write : writes) ledger.Acknowledge(write);
    v1::DeleteRequest del;
    del.set_collection("crash");
    const uint64_t victim = next_id - 3;
    del.add_ids(victim);
    v1::DeleteResponse del_response;
    grpc::ClientContext del_context;
    ASSERT_TRUE(stub->Delete(&del_context, del, &del_response).ok());
    ledger.Acknowledge({.ids = {victim}, .version = std::nullopt});

    // A writer keeps streaming blocks above the acknowledged range while the server is killed.
    std::atomic<bool> stop{false};
    std::thread in_flight([&, base = next_id + 200] {
      for (uint64_t block = base; !stop && block < base + 20 * kPerMessage; block += kPerMessage) {
        const Write write = Block(block, 7);
        if (UpsertStream(*stub, {UpsertMessage("crash", write, kDim)}).ok()) {
          ledger.Acknowledge(write);
        } else {
          ledger.InFlight(write);
          break;
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 15 * cycle));
    server.Kill();
    stop = true;
    in_flight.join();
    next_id += 1200;  // keep in-flight blocks out of the next cycle's fresh ids
  }
  EXPECT_GT(ledger.PresentIds().size(), 600u);
}

}  // namespace
}  // namespace adanns::testing
