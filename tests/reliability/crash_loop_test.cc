// Crash loop: the real server under a mixed load (upserts, deletes, searches from several
// threads) is SIGKILLed at seeded random moments, some of them during an index build, a
// calibration or a snapshot, and restarted on the same data dir. After every restart: each
// acknowledged upsert is back with identical bytes, each acknowledged delete is gone, each
// message in flight at the kill is whole or absent, the IVF is ready and keeps its recall, the
// calibration survives, and every listed snapshot restores. Run for a collection held whole and
// for a tiered one (an fp16 prefix of half the dims in memory; reads and re-ranks from storage).
// ADANNS_CRASH_CYCLES sets the number of kills (the `long` ctest runs 24).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/common/acknowledged_writes.h"
#include "tests/integration/server_process.h"
#include "tests/reliability/loopback_workload.h"
#include "tests/reliability/server_calls.h"

namespace adanns::testing {
namespace {

constexpr char kCollection[] = "reliability";
constexpr uint32_t kDim = 32;
constexpr uint32_t kNlist = 32;
constexpr uint32_t kNprobe = 12;
constexpr int kWriters = 3;
constexpr uint64_t kSeed = 20240610;
// IVF recall may move with the data between restarts, but not by more than this.
constexpr double kRecallTolerance = 0.1;
constexpr int kRecallQueries = 50;
// Builds the kills cut off run this many k-means iterations: long enough (about a second) for a
// kill to land inside them.
constexpr uint32_t kSlowBuildIterations = 1000;
constexpr std::chrono::seconds kIndexWait{120};

enum class KillDuring { kWrites, kIndexBuild, kCalibration, kSnapshot };

const char* KillName(KillDuring what) {
  switch (what) {
    case KillDuring::kWrites:
      return "writes";
    case KillDuring::kIndexBuild:
      return "index build";
    case KillDuring::kCalibration:
      return "calibration";
    case KillDuring::kSnapshot:
      return "snapshot";
  }
  return "";
}

int CyclesFromEnv() {
  const char* value = std::getenv("ADANNS_CRASH_CYCLES");
  return value != nullptr ? std::atoi(value) : 4;
}

grpc::Status CreateSnapshot(v1::Adanns::Stub& stub, const std::string& name) {
  v1::CreateSnapshotRequest request;
  request.set_name(name);
  v1::SnapshotInfo info;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return stub.CreateSnapshot(&context, request, &info);
}

grpc::Status ListSnapshots(v1::Adanns::Stub& stub, v1::ListSnapshotsResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return stub.ListSnapshots(&context, v1::ListSnapshotsRequest(), response);
}

struct Residency {
  const char* name;
  uint32_t resident_dims;  // 0: every dim
  v1::Precision precision;
};

class CrashLoopTest : public ::testing::TestWithParam<Residency> {
 protected:
  std::string data_dir() const { return dir_.path() + "/data"; }
  std::vector<std::string> ServerFlags() const {
    return {"--snapshot_dir=" + dir_.path() + "/snapshots", "--calibration_queries=50",
            "--search_threads=1"};
  }

  // Acknowledged upserts of `blocks` blocks of 20 ids below the workload's id ranges.
  void SeedVectors(v1::Adanns::Stub& stub, int blocks) {
    for (int b = 0; b < blocks; ++b) {
      Write write{.ids = {}, .version = 1};
      for (uint64_t id = b * 20; id < b * 20 + 20u; ++id) write.ids.push_back(id);
      ASSERT_TRUE(UpsertStream(stub, {UpsertMessage(kCollection, write, kDim)}).ok());
      ledger_.Acknowledge(write);
    }
  }

  // Every acknowledged write is back; in-flight ones landed whole or not at all.
  void CheckWrites(v1::Adanns::Stub& stub, int cycle) {
    std::map<uint64_t, std::vector<float>> stored;
    ASSERT_TRUE(GetVectors(stub, kCollection, ledger_.TouchedIds(), &stored));
    const CheckReport report = ledger_.Check(stored);
    EXPECT_TRUE(report.clean()) << report.first_error << " after kill " << cycle;
    lost_ += report.lost + report.resurrected + report.half_applied;
    acknowledged_ = report.acknowledged;
    std::cout << "  writes: " << report.acknowledged << " acknowledged vectors back, "
              << report.lost << " lost, " << report.resurrected << " deletes undone, "
              << report.in_flight_landed << " of " << report.in_flight
              << " in-flight writes landed whole, " << report.half_applied << " half applied\n";
  }

  // Every snapshot listed restores into a fresh data dir and serves the collection, and the
  // snapshot the kill cut off can be taken again under its name.
  void CheckSnapshots(v1::Adanns::Stub& stub, const std::string& cut_off_name) {
    v1::ListSnapshotsResponse listed;
    ASSERT_TRUE(ListSnapshots(stub, &listed).ok());
    bool cut_off_listed = false;
    for (const v1::SnapshotInfo& snapshot : listed.snapshots()) {
      cut_off_listed |= snapshot.name() == cut_off_name;
      const std::string restored = dir_.path() + "/restored-" + snapshot.name();
      if (std::filesystem::exists(restored)) continue;  // checked after an earlier kill
      ServerProcess server(restored, {"--restore_from=" + snapshot.path(), "--snapshot_dir="});
      auto restored_stub = server.NewStub();
      v1::CollectionInfo info;
      ASSERT_TRUE(Describe(*restored_stub, kCollection, &info).ok())
          << "snapshot " << snapshot.name();
      EXPECT_GT(info.vector_count(), 0u) << "snapshot " << snapshot.name();
      EXPECT_EQ(WaitForIndex(*restored_stub, kCollection, "ivf", kIndexWait), "ready")
          << "snapshot " << snapshot.name();
      server.Kill();
    }
    const grpc::Status again = CreateSnapshot(stub, cut_off_name);
    EXPECT_EQ(again.error_code(),
              cut_off_listed ? grpc::StatusCode::ALREADY_EXISTS : grpc::StatusCode::OK)
        << again.error_message();
    std::cout << "  snapshots: " << listed.snapshots_size() << " listed and restored; the one cut "
              << "off was " << (cut_off_listed ? "complete" : "absent, and was taken again")
              << "\n";
  }

  TempDir dir_;
  AcknowledgedWrites ledger_{kDim};
  size_t lost_ = 0;
  size_t acknowledged_ = 0;
};

TEST_P(CrashLoopTest, AcknowledgedWritesIndexesAndSnapshotsSurviveSigkillUnderLoad) {
  const int cycles = CyclesFromEnv();
  std::mt19937_64 rng(kSeed);
  WorkloadState state(kWriters);
  WorkloadOptions options;
  options.collection = kCollection;
  options.dim = kDim;
  options.writers = kWriters;
  double baseline_recall = 0;
  bool calibrated_before_kill = false;
  std::string cut_off_snapshot;
  std::map<KillDuring, int> kills;
  for (int cycle = 0; cycle <= cycles; ++cycle) {
    ServerProcess server(data_dir(), ServerFlags());
    auto stub = server.NewStub();
    if (cycle == 0) {
      v1::StorageOptions storage;
      storage.set_resident_dims(GetParam().resident_dims);
      storage.set_resident_precision(GetParam().precision);
      ASSERT_TRUE(CreateCollection(*stub, kCollection, kDim, storage).ok());
      SeedVectors(*stub, 100);
      ASSERT_TRUE(BuildIvf(*stub, kCollection, kNlist, 1).ok());
      ASSERT_EQ(WaitForIndex(*stub, kCollection, "ivf", kIndexWait), "ready");
      baseline_recall = IvfRecall(*stub, kCollection, kDim, kNprobe, kRecallQueries, kSeed);
      std::cout << "seed " << kSeed << ", baseline IVF recall@10 " << baseline_recall << "\n";
      ASSERT_GT(baseline_recall, 0.5);
      // A stored calibration, which kills during later calibrations must not lose.
      ASSERT_EQ(WaitForCalibration(*stub, kCollection, kIndexWait), "ready");
    } else {
      v1::CollectionInfo info;
      ASSERT_TRUE(Describe(*stub, kCollection, &info).ok());
      const std::string state_at_start = IndexState(info, "ivf");
      const std::string calibration_at_start = info.calibration().state();
      CheckWrites(*stub, cycle);
      // The index is the old one or the new one: ready, or rebuilt after the restart.
      const auto wait_start = std::chrono::steady_clock::now();
      ASSERT_EQ(WaitForIndex(*stub, kCollection, "ivf", kIndexWait), "ready");
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
      const double recall = IvfRecall(*stub, kCollection, kDim, kNprobe, kRecallQueries, kSeed);
      EXPECT_GE(recall, baseline_recall - kRecallTolerance) << "after kill " << cycle;
      EXPECT_NE(calibration_at_start, "failed");
      if (calibrated_before_kill) {
        EXPECT_EQ(calibration_at_start, "ready");
      }
      std::cout << "  ivf: " << state_at_start << " at restart, ready after " << waited
                << " s, recall@10 " << recall << "; calibration " << calibration_at_start << "\n";
      if (!cut_off_snapshot.empty()) CheckSnapshots(*stub, cut_off_snapshot);
      cut_off_snapshot.clear();
    }
    if (cycle == cycles) break;  // the last start only verifies

    LoopbackWorkload load(server, options, &state, &ledger_, kSeed + cycle);
    load.Start();
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    const KillDuring what = static_cast<KillDuring>(cycle % 4);
    ++kills[what];
    v1::CollectionInfo before;
    ASSERT_TRUE(Describe(*stub, kCollection, &before).ok());
    calibrated_before_kill = before.calibration().state() == "ready";
    std::thread snapshot;  // CreateSnapshot blocks until the checkpoint is written
    if (what == KillDuring::kIndexBuild) {
      ASSERT_TRUE(BuildIvf(*stub, kCollection, kNlist, cycle + 1, kSlowBuildIterations).ok());
    } else if (what == KillDuring::kCalibration) {
      ASSERT_TRUE(Calibrate(*stub, kCollection, 50, cycle + 1).ok());
    } else if (what == KillDuring::kSnapshot) {
      cut_off_snapshot = "snap-" + std::to_string(cycle);
      snapshot = std::thread([&, name = cut_off_snapshot] { CreateSnapshot(*stub, name); });
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(rng() % (what == KillDuring::kSnapshot ? 40
                                           : what == KillDuring::kWrites ? 400
                                                                         : 300)));
    v1::CollectionInfo at_kill;
    const bool described = Describe(*stub, kCollection, &at_kill).ok();
    load.ExpectServerGone();
    server.Kill();
    load.Stop();
    if (snapshot.joinable()) snapshot.join();
    EXPECT_EQ(load.errors(), 0) << load.first_error();
    std::cout << "kill " << cycle + 1 << " during " << KillName(what) << " after "
              << load.acknowledged_writes() << " acknowledged writes and " << load.searches()
              << " searches (ivf " << (described ? IndexState(at_kill, "ivf") : "?")
              << ", calibration " << (described ? at_kill.calibration().state() : "?") << ")\n";
  }
  std::cout << "crash loop: " << cycles << " kills (" << kills[KillDuring::kWrites]
            << " during writes, " << kills[KillDuring::kIndexBuild] << " during index builds, "
            << kills[KillDuring::kCalibration] << " during calibration, "
            << kills[KillDuring::kSnapshot] << " during snapshots), " << acknowledged_
            << " vectors acknowledged, " << lost_ << " lost\n";
  EXPECT_EQ(lost_, 0u);
  EXPECT_GT(acknowledged_, 2000u);
}

INSTANTIATE_TEST_SUITE_P(Residencies, CrashLoopTest,
                         ::testing::Values(Residency{"whole", 0, v1::PRECISION_FP32},
                                           Residency{"tiered_fp16", kDim / 2, v1::PRECISION_FP16}),
                         [](const ::testing::TestParamInfo<Residency>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace adanns::testing
