// Power cuts under the whole engine: writer threads upsert and delete through Engine/Collection
// (and an IVF build runs in some cycles) on a file system that keeps only fsynced bytes; the power
// goes off at a seeded random moment (some cycles: at a random sync, so a write is cut between its
// WAL append and the sync), unsynced bytes are thrown away, and the engine reopens. Every
// acknowledged upsert must be back with identical bytes, every acknowledged delete gone, every
// write in flight at the cut whole or absent, and the IVF ready again. The same for a collection
// with every vector in memory and for tiered ones (an fp16 or int8 prefix of half the dims in
// memory, full vectors read from storage: Get and the IVF's re-rank).
// ADANNS_POWER_CUT_CYCLES sets the number of cuts (the `long` ctest runs 20).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "server/engine.h"
#include "server/index_kinds.h"
#include "tests/common/acknowledged_writes.h"
#include "tests/common/power_cut_fs.h"
#include "tests/common/temp_dir.h"
#include "tests/reliability/write_chooser.h"

namespace adanns::testing {
namespace {

using server::Collection;
using server::Engine;

constexpr uint32_t kDim = 16;
constexpr int kWriters = 2;
constexpr uint64_t kBlockSize = 10;
constexpr uint64_t kSeed = 777;

int CyclesFromEnv() {
  const char* value = std::getenv("ADANNS_POWER_CUT_CYCLES");
  return value != nullptr ? std::atoi(value) : 4;
}

// An engine on a power-cut file system; the file system outlives the engine.
struct PoweredEngine {
  std::shared_ptr<PowerCutFileSystem> fs =
      std::make_shared<PowerCutFileSystem>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  std::unique_ptr<Engine> engine;
};

// The state of index `name` once it is no longer building (bounded wait).
std::string SettledIndexState(const Collection& collection, const std::string& name) {
  std::string state;
  for (int attempt = 0; attempt < 1200; ++attempt) {
    state.clear();
    for (const server::IndexStatus& index : collection.Indexes()) {
      if (index.name == name) state = index.state;
    }
    if (state != "building") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return state;
}

server::BuildRequest IvfBuild(uint64_t seed) {
  index::IvfBuildParams params;
  params.nlist = 16;
  params.seed = seed;
  return server::MakeIvfBuild(params, Metric::kL2);
}

// How the collection holds its vectors in memory.
struct Residency {
  const char* name;
  uint32_t resident_dims;  // 0: every dim
  storage::ResidentPrecision precision;
};

class PowerCutEngineTest : public ::testing::TestWithParam<Residency> {
 protected:
  // Writes until the power goes off; acknowledged writes go to the ledger, the one cut off is in
  // flight. Any failure while the power is on is an error.
  void Writer(Collection& collection, int writer, uint64_t seed) {
    WriteChooser chooser(&state_, writer, kBlockSize, 0, seed);
    while (true) {
      const Write write = chooser.Next();
      const absl::Status status = write.version ? collection.Upsert(write.ids, write.Values(kDim))
                                                : collection.Delete(write.ids).status();
      if (!status.ok()) {
        ledger_.InFlight(write);
        if (!power_->fs->power_off()) ++errors_;
        return;
      }
      ledger_.Acknowledge(write);
      ++acknowledged_writes_;
    }
  }

  absl::Status Open() {
    power_ = std::make_unique<PoweredEngine>();
    storage::StoreOptions options;
    options.env = power_->env.get();
    server::CollectionOptions collection_options;
    collection_options.calibration_queries = 30;
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Open(dir_.path(), options, collection_options);
    if (!engine.ok()) return engine.status();
    power_->engine = *std::move(engine);
    return absl::OkStatus();
  }

  TempDir dir_;
  std::unique_ptr<PoweredEngine> power_;
  AcknowledgedWrites ledger_{kDim};
  WorkloadState state_{kWriters};
  std::atomic<int> errors_{0};
  std::atomic<int64_t> acknowledged_writes_{0};
};

TEST_P(PowerCutEngineTest, AcknowledgedWritesSurviveRepeatedPowerCuts) {
  const int cycles = CyclesFromEnv();
  std::mt19937_64 rng(kSeed);
  size_t lost = 0;
  size_t acknowledged = 0;
  bool ivf_was_ready = false;
  for (int cycle = 0; cycle <= cycles; ++cycle) {
    ASSERT_TRUE(Open().ok()) << "reopen after cut " << cycle;
    Engine& engine = *power_->engine;
    if (cycle == 0) {
      storage::CollectionMeta meta;
      meta.name = "powercut";
      meta.dim = kDim;
      meta.resident_dims = GetParam().resident_dims;
      meta.resident_precision = GetParam().precision;
      ASSERT_TRUE(engine.CreateCollection(meta).ok());
    }
    absl::StatusOr<std::shared_ptr<Collection>> collection = engine.Find("powercut");
    ASSERT_TRUE(collection.ok()) << "after cut " << cycle;
    EXPECT_EQ((*collection)->resident_dims(),
              GetParam().resident_dims == 0 ? kDim : GetParam().resident_dims);
    if (cycle > 0) {
      const std::vector<uint64_t> ids = ledger_.TouchedIds();
      std::vector<std::pair<uint64_t, std::vector<float>>> found;
      std::vector<uint64_t> missing;
      (*collection)->Get(ids, &found, &missing);
      const CheckReport report = ledger_.Check({found.begin(), found.end()});
      EXPECT_TRUE(report.clean()) << report.first_error << " after cut " << cycle;
      lost += report.lost + report.resurrected + report.half_applied;
      acknowledged = report.acknowledged;
      const std::string ivf = SettledIndexState(**collection, "ivf");
      std::cout << "after cut " << cycle << ": " << report.acknowledged
                << " acknowledged vectors back, " << report.lost << " lost, " << report.resurrected
                << " deletes undone, " << report.in_flight_landed << " of " << report.in_flight
                << " in-flight writes landed whole; ivf " << ivf << "; table "
                << (*collection)->vector_memory_bytes() << " bytes for " << (*collection)->size()
                << " vectors\n";
      // Old or new: an IVF once ready stays ready; a build the cut stopped is resumed.
      EXPECT_TRUE(ivf == "ready" || (ivf.empty() && !ivf_was_ready)) << ivf << " after " << cycle;
      ivf_was_ready |= ivf == "ready";
    }
    if (cycle == cycles) break;

    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] { Writer(**collection, w, kSeed * 100 + cycle * kWriters + w); });
    }
    // Every other cycle the cut may land in an IVF build (the first needs vectors to train on).
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 200));
    if (cycle % 2 == 1) {
      EXPECT_TRUE((*collection)->StartBuild(IvfBuild(cycle)).ok());
    }
    if (cycle % 3 == 2) {
      // The cut lands inside a write: between its WAL append and the sync, which fails.
      power_->fs->CutPowerAtSync(1 + rng() % 50);
      for (int wait = 0; wait < 300 && !power_->fs->power_off(); ++wait) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    }
    power_->fs->CutPower();
    for (std::thread& writer : writers) writer.join();
    collection->reset();
    power_->engine.reset();  // closes the store after the cut: its shutdown persists nothing
    const uint64_t discarded = power_->fs->DiscardUnsyncedData();
    std::cout << "cut " << cycle + 1 << " after " << acknowledged_writes_ << " acknowledged writes"
              << (cycle % 2 == 1 ? " (IVF build started)" : "")
              << (cycle % 3 == 2 ? " (at a sync)" : "") << ": " << discarded
              << " unsynced bytes discarded\n";
    EXPECT_EQ(errors_, 0) << "writes failed while the power was on";
  }
  std::cout << "power cuts: " << cycles << ", " << acknowledged << " vectors acknowledged, " << lost
            << " lost\n";
  EXPECT_EQ(lost, 0u);
  EXPECT_GT(acknowledged, 500u);
  if (cycles >= 4) {
    EXPECT_TRUE(ivf_was_ready);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Residencies, PowerCutEngineTest,
    ::testing::Values(Residency{"whole", 0, storage::ResidentPrecision::kFloat32},
                      Residency{"tiered_fp16", kDim / 2, storage::ResidentPrecision::kFloat16},
                      // Past 8,192 vectors: learns its parameters during the run.
                      Residency{"tiered_int8", kDim / 2, storage::ResidentPrecision::kInt8}),
    [](const ::testing::TestParamInfo<Residency>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace adanns::testing
