// Fault tests of replicated shards (server/replication.h, issue #23), long suite: a real etcd
// (one member; three in scenario 6), three data node processes, two routers, 4 shards x 3
// replicas. Throughout each scenario one writer per shard upserts ids of that shard (retrying
// every failed message, on the other router, as a client does; upserts by id are idempotent) and
// logs every acknowledged id and when; a reader searches through the routers. After the fault:
// - 0 lost: every acknowledged id reads back through a router with the bytes sent;
// - after quiescence the in-sync copies of each shard hold identical contents (count and an
//   order-independent hash) and no id is on two shards;
// - search success >= 99% over the run;
// - the write outage (longest gap between two acknowledgements) of every shard stays below
//   2 x lease + 1 s, and below the ack deadline + 2 s where the fault only took a follower away.
//
// Scenarios: (2) kill -9 a follower; (3) SIGSTOP a primary past its lease, SIGCONT, a write sent
// to it directly is refused; (4) restart a killed data node, with WAL retention that still holds
// its position (it catches up from the WAL) and with retention too small for that (a full copy),
// the primaries' adanns_replication_catch_ups_total showing the path; (5) kill -9 one of the two
// routers; (6) kill -9 the leader of a 3-member etcd cluster: no failover, no lease lost.
//
// Timing on two loaded cores (the same as replication_test): leases of 3 s (renewed every 1 s),
// a follower ack deadline of 1.5 s. Each scenario's load runs about kLoadSeconds
// (ADANNS_FAULT_SECONDS overrides it for quicker local runs), its phases fractions of that.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "adanns/v1/cluster.grpc.pb.h"
#include "cluster/shard_map.h"
#include "gtest/gtest.h"
#include "tests/cluster/docs_collection.h"
#include "tests/cluster/etcd_process.h"
#include "tests/cluster/eventually.h"
#include "tests/cluster/shard_copies.h"
#include "tests/common/temp_dir.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The issue asks for about 60 s of load per scenario.
constexpr int kLoadSeconds = 60;
constexpr int kLeaseSeconds = 3;
constexpr double kAckTimeoutSeconds = 1.5;
constexpr uint32_t kShards = 4;
constexpr uint64_t kFirstId = 1000;
constexpr size_t kPerMessage = 10;
// The refused direct write of scenario 3 uses ids far above the writers'.
constexpr uint64_t kDirectFirstId = 50'000'000;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double LoadSeconds() {
  const char* value = std::getenv("ADANNS_FAULT_SECONDS");
  return value != nullptr && std::atoi(value) > 0 ? std::atoi(value) : kLoadSeconds;
}

// A phase of a scenario: `fraction` of the load, but never shorter than `floor`, what the fault
// needs (a lease to run out, a failover, writes after it).
std::chrono::milliseconds Phase(double fraction, std::chrono::seconds floor) {
  return std::max<std::chrono::milliseconds>(
      floor, std::chrono::milliseconds(static_cast<int64_t>(fraction * LoadSeconds() * 1000)));
}

// The sum over a /metrics exposition of the samples of counter `name` whose labels include
// every one of `labels` (as `key="value"`).
double SumSamples(const std::string& text, const std::string& name,
                  const std::vector<std::string>& labels) {
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    const size_t close = line.find('}');
    if (close == std::string::npos) continue;
    const std::string label_text = line.substr(name.size(), close - name.size() + 1);
    if (std::all_of(labels.begin(), labels.end(), [&](const std::string& label) {
          return label_text.find(label) != std::string::npos;
        })) {
      sum += std::atof(line.c_str() + close + 1);
    }
  }
  return sum;
}

// What the load saw of one shard.
struct ShardLog {
  std::set<uint64_t> acked;
  std::vector<Clock::time_point> ack_times;
  uint64_t next_id = kFirstId;  // the writer's scan position (ids below it were attempted)
  int failures = 0;
};

class ReplicationFaultsTest : public ::testing::Test {
 protected:
  // What a scenario changes in the cluster the fixture starts.
  struct ClusterSetup {
    int etcd_members = 1;
    std::vector<std::string> node_flags;  // added to every data node's
  };
  virtual ClusterSetup Setup() const { return {}; }

  void SetUp() override {
    const ClusterSetup setup = Setup();
    etcd_ = std::make_unique<EtcdCluster>(dir_.path(), setup.etcd_members);
    // The leader first: every node and router talks to it until it fails (scenario 6 kills it).
    etcd_endpoints_ = etcd_->endpoints(std::max(0, etcd_->Leader()));
    const std::vector<std::string> cluster = {"--etcd=" + etcd_endpoints_, "--cluster=t",
                                              "--lease_seconds=" + std::to_string(kLeaseSeconds)};
    for (int n = 0; n < 3; ++n) {
      std::vector<std::string> flags = cluster;
      flags.push_back("--role=data");
      flags.push_back("--replication_ack_timeout_ms=1500");
      flags.push_back("--snapshot_dir=" + dir_.path() + "/snapshots");
      metrics_ports_.push_back(FreeLoopbackPort());
      flags.push_back("--metrics_listen=127.0.0.1:" + std::to_string(metrics_ports_.back()));
      flags.insert(flags.end(), setup.node_flags.begin(), setup.node_flags.end());
      node_flags_.push_back(flags);
      nodes_.push_back(
          std::make_unique<ServerProcess>(dir_.path() + "/node" + std::to_string(n), flags));
    }
    for (int r = 0; r < 2; ++r) {
      std::vector<std::string> flags = cluster;
      flags.push_back("--role=router");
      routers_.push_back(
          std::make_unique<ServerProcess>(dir_.path() + "/router" + std::to_string(r), flags));
      stubs_.push_back(routers_.back()->NewStub());
    }
    ASSERT_TRUE(AwaitRegisteredNodes(*etcd_->NewClient(), "t", 3));
    v1::CreateCollectionRequest create;
    create.set_name("docs");
    create.set_dim(kDim);
    create.set_metric(v1::L2);
    create.set_shards(kShards);
    create.set_replicas(3);
    grpc::ClientContext context;
    v1::CollectionInfo info;
    const grpc::Status created = stubs_[0]->CreateCollection(&context, create, &info);
    ASSERT_TRUE(created.ok()) << created.error_message();
    // Both routers see the collection before the load starts.
    ASSERT_TRUE(Eventually([&] { return TryDescribe(1).has_value(); }, std::chrono::seconds(10)));
  }

  void TearDown() override { StopLoad(); }

  // --- load ---------------------------------------------------------------------------------

  void StartLoad() {
    stop_.store(false);
    for (uint32_t shard = 0; shard < kShards; ++shard) {
      writers_.emplace_back([this, shard] { WriteShard(shard); });
    }
    reader_ = std::thread([this] { Read(); });
  }

  void StopLoad() {
    stop_.store(true);
    for (std::thread& writer : writers_) {
      if (writer.joinable()) writer.join();
    }
    writers_.clear();
    if (reader_.joinable()) reader_.join();
  }

  // The ids of `shard` from `*next` on, `count` of them.
  static std::vector<uint64_t> NextIds(uint32_t shard, uint64_t* next, size_t count) {
    std::vector<uint64_t> ids;
    while (ids.size() < count) {
      if (cluster::ShardOfId(*next, kShards) == shard) ids.push_back(*next);
      ++*next;
    }
    return ids;
  }

  static v1::UpsertRequest MessageOf(const std::vector<uint64_t>& ids) {
    v1::UpsertRequest message;
    message.set_collection("docs");
    for (uint64_t id : ids) {
      v1::Vector* vector = message.add_vectors();
      vector->set_id(id);
      const std::vector<float> row = Row(id);
      vector->mutable_values()->Add(row.begin(), row.end());
    }
    return message;
  }

  void WriteShard(uint32_t shard) {
    size_t router = shard % 2;
    uint64_t next = kFirstId;
    while (!stop_.load()) {
      if (held_[shard].load()) {
        idle_[shard].store(true);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      idle_[shard].store(false);
      const std::vector<uint64_t> ids = NextIds(shard, &next, kPerMessage);
      {
        std::lock_guard lock(log_mutex_);
        logs_[shard].next_id = next;
      }
      const v1::UpsertRequest message = MessageOf(ids);
      while (!stop_.load()) {
        // A per-attempt deadline below the outage bound: an attempt stuck on a frozen primary
        // is retried (through the other router) once the shard has a new one.
        const grpc::Status status =
            UpsertStream(*stubs_[router], {message}, std::chrono::seconds(2));
        if (status.ok()) {
          std::lock_guard lock(log_mutex_);
          logs_[shard].acked.insert(ids.begin(), ids.end());
          logs_[shard].ack_times.push_back(Clock::now());
          break;
        }
        {
          std::lock_guard lock(log_mutex_);
          ++logs_[shard].failures;
          if (logs_[shard].failures <= 3 || logs_[shard].failures % 20 == 0) {
            std::cerr << "shard " << shard << " write via router " << router
                      << " failed: " << status.error_code() << " " << status.error_message()
                      << "\n";
          }
        }
        router = (router + 1) % 2;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Read() {
    size_t router = 0;
    for (uint64_t q = 0; !stop_.load(); ++q) {
      v1::SearchRequest request;
      request.set_collection("docs");
      request.set_k(10);
      const std::vector<float> query = Row(q + 100000);
      request.mutable_query()->Add(query.begin(), query.end());
      request.mutable_budget()->mutable_plan()->set_index("flat");
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::SearchResponse response;
      const grpc::Status status = stubs_[router]->Search(&context, request, &response);
      ++searches_;
      if (status.ok()) {
        ++searches_ok_;
      } else {
        if (searches_.load() - searches_ok_.load() <= 5) {
          std::cerr << "search via router " << router << " failed: " << status.error_code() << " "
                    << status.error_message() << "\n";
        }
        router = (router + 1) % 2;  // a client fails over to the other router
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Holds the writers of `shards` once their message in flight is acknowledged (or given up at
  // the end of the load); returns once they wait.
  void HoldWriters(const std::set<uint32_t>& shards) {
    for (uint32_t shard : shards) held_[shard].store(true);
    EXPECT_TRUE(Eventually(
        [&] {
          return std::all_of(shards.begin(), shards.end(),
                             [&](uint32_t shard) { return idle_[shard].load(); });
        },
        std::chrono::seconds(10)));
  }
  void ReleaseWriters() {
    for (uint32_t shard = 0; shard < kShards; ++shard) held_[shard].store(false);
  }

  // --- cluster views ------------------------------------------------------------------------

  std::optional<v1::CollectionInfo> TryDescribe(size_t router) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    v1::DescribeCollectionRequest request;
    request.set_name("docs");
    v1::CollectionInfo info;
    if (!stubs_[router]->DescribeCollection(&context, request, &info).ok()) return std::nullopt;
    if (info.shards_size() != static_cast<int>(kShards)) return std::nullopt;
    return info;
  }

  v1::CollectionInfo Describe(size_t router) {
    std::optional<v1::CollectionInfo> info;
    Eventually([&] { return (info = TryDescribe(router)).has_value(); }, std::chrono::seconds(15));
    EXPECT_TRUE(info.has_value()) << "DescribeCollection through router " << router;
    return info.value_or(v1::CollectionInfo());
  }

  ServerProcess* Node(const std::string& node_id) { return NodeProcess(nodes_, node_id); }

  size_t NodeIndex(const std::string& node_id) const {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (nodes_[n]->target() == node_id) return n;
    }
    return nodes_.size();
  }

  // Starts data node `index` again on its address (so the same node id) with its data.
  void RestartNode(size_t index) {
    std::vector<std::string> flags = node_flags_[index];
    flags.push_back("--listen=127.0.0.1:" + std::to_string(nodes_[index]->port()));  // last wins
    nodes_[index] =
        std::make_unique<ServerProcess>(dir_.path() + "/node" + std::to_string(index), flags);
  }

  // Counter `name` of collection "docs" with `labels` (path="wal", ...), summed over the running
  // data nodes other than `except`; -1 when a node's /metrics does not answer.
  double NodeCounter(const std::string& name, const std::vector<std::string>& labels,
                     size_t except = SIZE_MAX) {
    std::vector<std::string> all = labels;
    all.push_back("collection=\"docs\"");
    double sum = 0;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (n == except || !nodes_[n]->running()) continue;
      std::string text;
      if (RunCommand("curl -sf http://127.0.0.1:" + std::to_string(metrics_ports_[n]) + "/metrics",
                     &text) != 0) {
        return -1;
      }
      sum += SumSamples(text, name, all);
    }
    return sum;
  }

  // Order-independent hash of a copy's contents.
  static uint64_t ContentHash(const std::map<uint64_t, std::vector<float>>& contents) {
    uint64_t sum = 0;
    for (const auto& [id, values] : contents) {
      uint64_t h = cluster::IdHash(id);
      for (float value : values) {
        uint32_t bits;
        std::memcpy(&bits, &value, sizeof(bits));
        h = cluster::IdHash(h ^ bits);
      }
      sum += h;
    }
    return sum;
  }

  // --- checks -------------------------------------------------------------------------------

  struct Figures {
    size_t acked = 0;
    size_t lost = 0;
    std::vector<double> outage;  // per shard, seconds
    int searches = 0;
    int searches_ok = 0;
  };

  // Stops the load, then checks 0 lost (through `router`), the in-sync copies' agreement and
  // ids on one shard only; prints and returns the figures.
  Figures Check(const std::string& scenario, size_t router,
                const std::set<uint64_t>& extra_ids = {}) {
    StopLoad();
    Figures figures;
    std::vector<uint64_t> acked_ids;
    std::vector<uint64_t> all_ids;  // every id a writer attempted
    {
      std::lock_guard lock(log_mutex_);
      for (uint32_t shard = 0; shard < kShards; ++shard) {
        const ShardLog& log = logs_[shard];
        acked_ids.insert(acked_ids.end(), log.acked.begin(), log.acked.end());
        double longest = 0;
        for (size_t i = 1; i < log.ack_times.size(); ++i) {
          longest = std::max(longest, Seconds(log.ack_times[i] - log.ack_times[i - 1]));
        }
        figures.outage.push_back(longest);
        for (uint64_t id = kFirstId; id < log.next_id; ++id) {
          if (cluster::ShardOfId(id, kShards) == shard) all_ids.push_back(id);
        }
      }
    }
    all_ids.insert(all_ids.end(), extra_ids.begin(), extra_ids.end());
    std::sort(acked_ids.begin(), acked_ids.end());
    std::sort(all_ids.begin(), all_ids.end());
    figures.acked = acked_ids.size();
    figures.searches = searches_.load();
    figures.searches_ok = searches_ok_.load();

    // 0 lost, identical bytes.
    std::map<uint64_t, std::vector<float>> read;
    EXPECT_TRUE(Eventually([&] { return GetVectors(*stubs_[router], "docs", acked_ids, &read); },
                           std::chrono::seconds(15)));
    for (uint64_t id : acked_ids) {
      auto found = read.find(id);
      if (found == read.end() || found->second != Row(id)) ++figures.lost;
    }
    EXPECT_EQ(figures.lost, 0u) << scenario << ": acknowledged ids lost or changed";

    // Quiescence: the in-sync copies of each shard agree (a copy may still be applying the
    // writer's last, unacknowledged attempt for a moment).
    std::string disagreement;
    const bool agree = Eventually(
        [&] {
          disagreement.clear();
          const std::optional<v1::CollectionInfo> info = TryDescribe(router);
          if (!info.has_value()) {
            disagreement = "DescribeCollection failed";
            return false;
          }
          std::map<uint64_t, uint32_t> shard_of;
          for (const v1::ShardInfo& shard : info->shards()) {
            std::optional<std::pair<size_t, uint64_t>> first;
            for (const std::string& node : shard.in_sync()) {
              const auto contents = CopyContents(node, shard.shard(), all_ids);
              if (!contents.has_value()) {
                disagreement = "shard " + std::to_string(shard.shard()) + ": copy on " + node +
                               " does not answer";
                return false;
              }
              const std::pair<size_t, uint64_t> summary{contents->size(), ContentHash(*contents)};
              if (!first.has_value()) {
                first = summary;
                for (const auto& [id, values] : *contents) {
                  if (!shard_of.emplace(id, shard.shard()).second) {
                    disagreement = "id " + std::to_string(id) + " on two shards";
                    return false;
                  }
                }
              } else if (summary != *first) {
                disagreement = "shard " + std::to_string(shard.shard()) + ": copy on " + node +
                               " holds " + std::to_string(summary.first) + " ids, hash " +
                               std::to_string(summary.second) + "; first in-sync copy " +
                               std::to_string(first->first) + ", hash " +
                               std::to_string(first->second);
                return false;
              }
            }
          }
          return true;
        },
        std::chrono::seconds(20));
    EXPECT_TRUE(agree) << scenario << ": " << disagreement;

    std::cout << "[" << scenario << "] acknowledged " << figures.acked << " ids, lost "
              << figures.lost << ", write outage per shard (s):";
    for (double outage : figures.outage) std::cout << " " << outage;
    std::cout << ", searches " << figures.searches_ok << "/" << figures.searches << " ok ("
              << (figures.searches == 0 ? 0.0 : 100.0 * figures.searches_ok / figures.searches)
              << "%)\n";
    {
      std::lock_guard lock(log_mutex_);
      std::cout << "[" << scenario << "] failed write attempts per shard:";
      for (uint32_t shard = 0; shard < kShards; ++shard) std::cout << " " << logs_[shard].failures;
      std::cout << "\n";
    }
    EXPECT_GT(figures.acked, 0u);
    EXPECT_GE(figures.searches_ok * 100, figures.searches * 99)
        << scenario << ": search success below 99%";
    for (double outage : figures.outage) {
      EXPECT_LT(outage, 2.0 * kLeaseSeconds + 1.0) << scenario << ": write outage";
    }
    return figures;
  }

  // The shards whose primary is `node` (in `info`).
  static std::set<uint32_t> PrimaryOf(const v1::CollectionInfo& info, const std::string& node) {
    std::set<uint32_t> shards;
    for (const v1::ShardInfo& shard : info.shards()) {
      if (shard.node_id() == node) shards.insert(shard.shard());
    }
    return shards;
  }

  TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::string etcd_endpoints_;  // the data nodes' and routers' --etcd
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::vector<std::unique_ptr<ServerProcess>> routers_;
  std::vector<std::unique_ptr<v1::Adanns::Stub>> stubs_;

  std::vector<std::vector<std::string>> node_flags_;  // per data node
  std::vector<int> metrics_ports_;                    // per data node
  std::atomic<bool> stop_{false};
  std::atomic<bool> held_[kShards] = {};  // HoldWriters
  std::atomic<bool> idle_[kShards] = {};  // a held writer waits
  std::mutex log_mutex_;
  ShardLog logs_[kShards];
  std::vector<std::thread> writers_;
  std::thread reader_;
  std::atomic<int> searches_{0};
  std::atomic<int> searches_ok_{0};
};

// (2) kill -9 a follower: the shards it only followed keep taking writes after at most the ack
// deadline (it leaves their in-sync sets); a shard it led fails over within 2 x lease + 1 s.
TEST_F(ReplicationFaultsTest, KillingAFollowerLosesNothing) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.2, std::chrono::seconds(3)));
  const v1::CollectionInfo before = Describe(0);
  // A follower of shard 0; preferably one that leads no shard at all.
  std::string victim;
  for (const std::string& node : before.shards(0).replicas()) {
    if (node == before.shards(0).node_id()) continue;
    if (victim.empty() || PrimaryOf(before, node).empty()) victim = node;
  }
  ASSERT_FALSE(victim.empty());
  const std::set<uint32_t> led = PrimaryOf(before, victim);
  ServerProcess* process = Node(victim);
  ASSERT_NE(process, nullptr) << victim;
  process->Kill();
  std::this_thread::sleep_for(Phase(0.8, std::chrono::seconds(15)));

  const Figures figures = Check("kill -9 follower", 0);
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    if (led.contains(shard)) continue;  // a failover: bounded by the check above
    EXPECT_LT(figures.outage[shard], kAckTimeoutSeconds + 2.0)
        << "shard " << shard << " (" << victim << " only followed it)";
  }
  const v1::CollectionInfo after = Describe(0);
  for (const v1::ShardInfo& shard : after.shards()) {
    for (const std::string& node : shard.in_sync()) {
      EXPECT_NE(node, victim) << "shard " << shard.shard() << ": the dead copy is still in sync";
    }
    EXPECT_GE(shard.in_sync_size(), 2) << "shard " << shard.shard();
  }
}

// (4) kill -9 a data node, let the load go on under the new primaries, restart it on the same
// address (so the same node id) with its data: it catches up on every shard (each has a copy on
// it) and rejoins every in-sync set. The path shows in the primaries' (the surviving nodes')
// adanns_replication_catch_ups_total{path}, counted by the node serving the catch-up:
// - WalDelta, the default retention (a day, 4 GiB): every shard from the primary's WAL, no full
//   copy. The victim's own shards are quiet when it is killed: an unacknowledged write it had
//   committed as their primary is one the new primary never had, which needs a full copy
//   whatever the retention (the FullCopy case kills it under load and covers that too);
// - FullCopy, retention of 1 s and, while it is down, two cluster snapshots 3 s apart: with these
//   8-dim rows no memtable fills, and a checkpoint flushes every memtable, so the primaries' WAL
//   files holding its position are archived by the first and deleted by the second: a full copy
//   of every shard. (No --wal_retention_mb: with both limits set, RocksDB purges the archive only
//   every 10 minutes; with the age limit alone, every half of it.)
struct Retention {
  std::string name;
  std::vector<std::string> flags;
  bool full_copy;
};
void PrintTo(const Retention& retention, std::ostream* out) { *out << retention.name; }

class ReplicationFaultsRestartTest : public ReplicationFaultsTest,
                                     public ::testing::WithParamInterface<Retention> {
 protected:
  ClusterSetup Setup() const override {
    return {.etcd_members = 1, .node_flags = GetParam().flags};
  }

  // Cluster snapshots flush the primaries' memtables (see above).
  void Snapshot(const std::string& name) {
    v1::CreateSnapshotRequest request;
    request.set_name(name);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::SnapshotInfo info;
    const grpc::Status status = stubs_[0]->CreateSnapshot(&context, request, &info);
    EXPECT_TRUE(status.ok()) << "snapshot " << name << ": " << status.error_message();
  }
};

TEST_P(ReplicationFaultsRestartTest, CatchesUpAndRejoins) {
  const std::string scenario = "restart killed node, " + GetParam().name;
  StartLoad();
  std::this_thread::sleep_for(Phase(0.2, std::chrono::seconds(3)));
  const v1::CollectionInfo before = Describe(0);
  const std::string victim = before.shards(0).node_id();
  const size_t index = NodeIndex(victim);
  ASSERT_LT(index, nodes_.size()) << victim;
  if (!GetParam().full_copy) HoldWriters(PrimaryOf(before, victim));
  nodes_[index]->Kill();
  ReleaseWriters();
  // Down, under load: its shards fail over first (within 2 x lease + 1 s).
  const auto back_at = Clock::now() + Phase(0.4, std::chrono::seconds(8));
  if (GetParam().full_copy) {
    // Once every shard has a live primary: a snapshot asks each shard's primary.
    EXPECT_TRUE(Eventually(
        [&] {
          const std::optional<v1::CollectionInfo> now = TryDescribe(0);
          return now.has_value() && PrimaryOf(*now, victim).empty();
        },
        std::chrono::seconds(15)));
    Snapshot("while-down-1");
    // The archive's files then are older than the 1-s retention (RocksDB counts whole seconds).
    std::this_thread::sleep_for(std::chrono::seconds(3));
    Snapshot("while-down-2");
  }
  std::this_thread::sleep_until(back_at);
  const double wal_before = NodeCounter("adanns_replication_catch_ups_total", {"path=\"wal\""});
  const double copies_before =
      NodeCounter("adanns_replication_catch_ups_total", {"path=\"full_copy\""});
  ASSERT_GE(wal_before, 0);
  ASSERT_GE(copies_before, 0);

  RestartNode(index);
  const auto restarted_at = Clock::now();
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<v1::CollectionInfo> now = TryDescribe(0);
        if (!now.has_value()) return false;
        for (const v1::ShardInfo& shard : now->shards()) {
          const auto& in_sync = shard.in_sync();
          if (std::find(in_sync.begin(), in_sync.end(), victim) == in_sync.end()) return false;
        }
        return true;
      },
      std::chrono::seconds(40)))
      << "the restarted node did not rejoin every shard's in-sync set";
  std::cout << "[" << scenario << "] back in every in-sync set after "
            << Seconds(Clock::now() - restarted_at) << " s\n";
  std::this_thread::sleep_for(Phase(0.3, std::chrono::seconds(2)));  // load with it back
  Check(scenario, 0);

  // What the surviving nodes served it (it is a follower of every shard now).
  const double wal =
      NodeCounter("adanns_replication_catch_ups_total", {"path=\"wal\""}, index) - wal_before;
  const double copies =
      NodeCounter("adanns_replication_catch_ups_total", {"path=\"full_copy\""}, index) -
      copies_before;
  std::cout << "[" << scenario << "] catch-ups served while it rejoined: wal " << wal
            << ", full_copy " << copies << "\n";
  if (GetParam().full_copy) {
    EXPECT_GE(copies, kShards) << "every shard's WAL had dropped its position";
  } else {
    EXPECT_GE(wal, kShards) << "every shard resumes from the primary's WAL";
    EXPECT_EQ(copies, 0) << "the WAL held every shard's position";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Retention, ReplicationFaultsRestartTest,
    ::testing::Values(
        Retention{"WalDelta", {"--wal_retention_seconds=86400", "--wal_retention_mb=4096"}, false},
        Retention{"FullCopy", {"--wal_retention_seconds=1", "--wal_retention_mb=0"}, true}),
    [](const ::testing::TestParamInfo<Retention>& param) { return param.param.name; });

// (3) SIGSTOP a primary past its lease: a follower takes over with the next epoch. After SIGCONT
// the old primary must not get a write acknowledged: a write sent to it directly is refused.
TEST_F(ReplicationFaultsTest, PausedPrimaryIsReplacedAndRefusesWrites) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.2, std::chrono::seconds(3)));
  const v1::CollectionInfo before = Describe(0);
  const std::string old_primary = before.shards(0).node_id();
  ServerProcess* process = Node(old_primary);
  ASSERT_NE(process, nullptr) << old_primary;
  const auto paused_at = Clock::now();
  process->Pause();
  std::this_thread::sleep_for(std::chrono::seconds(2 * kLeaseSeconds));  // past its lease
  std::optional<v1::ShardInfo> promoted;
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<v1::CollectionInfo> now = TryDescribe(0);
        if (!now.has_value()) return false;
        promoted = now->shards(0);
        return promoted->epoch() >= 2 && promoted->node_id() != old_primary;
      },
      std::chrono::seconds(15)))
      << "no follower took over shard 0 (epoch " << (promoted.has_value() ? promoted->epoch() : 0)
      << ")";
  std::cout << "[SIGSTOP primary] shard 0 promoted after <= " << Seconds(Clock::now() - paused_at)
            << " s: " << (promoted.has_value() ? promoted->node_id() : "?") << " epoch "
            << (promoted.has_value() ? promoted->epoch() : 0) << "\n";
  process->Resume();

  // Straight after SIGCONT (the old primary's view of the shard may still be stale): a write
  // sent to it directly is refused.
  v1::ShardUpsertRequest direct;
  direct.set_shard(0);
  std::set<uint64_t> direct_ids;
  {
    uint64_t next = kDirectFirstId;
    const std::vector<uint64_t> ids = NextIds(0, &next, kPerMessage);
    direct_ids.insert(ids.begin(), ids.end());
    *direct.mutable_request() = MessageOf(ids);
  }
  auto stale = ShardStub(old_primary);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::UpsertResponse response;
  const grpc::Status refused = stale->Upsert(&context, direct, &response);
  std::cout << "[SIGSTOP primary] direct write to the old primary: " << refused.error_code() << " "
            << refused.error_message() << "\n";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  // Once it has caught up with etcd, it still refuses (it is a follower now).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  {
    grpc::ClientContext again;
    again.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status later = stale->Upsert(&again, direct, &response);
    EXPECT_EQ(later.error_code(), grpc::StatusCode::UNAVAILABLE) << later.error_message();
  }
  std::this_thread::sleep_for(Phase(0.6, std::chrono::seconds(5)));  // under the new primary

  Check("SIGSTOP primary", 0, direct_ids);
  // The old primary holds writes the new one never had (at least the refused one, committed on
  // it before the refusal): it rejoins shard 0's in-sync set only through a full copy, which
  // drops them.
  const auto rejoin_from = Clock::now();
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<v1::CollectionInfo> now = TryDescribe(0);
        if (!now.has_value()) return false;
        const auto& in_sync = now->shards(0).in_sync();
        return std::find(in_sync.begin(), in_sync.end(), old_primary) != in_sync.end();
      },
      std::chrono::seconds(30)))
      << "the replaced primary did not rejoin shard 0's in-sync set";
  std::cout << "[SIGSTOP primary] old primary back in sync (full copy) after "
            << Seconds(Clock::now() - rejoin_from) << " s\n";
  // The refused write is on no in-sync copy, the old primary's included.
  const v1::CollectionInfo after = Describe(0);
  const std::vector<uint64_t> direct_list(direct_ids.begin(), direct_ids.end());
  for (const std::string& node : after.shards(0).in_sync()) {
    const auto contents = CopyContents(node, 0, direct_list);
    ASSERT_TRUE(contents.has_value()) << node;
    EXPECT_TRUE(contents->empty()) << "the refused write reached the in-sync copy on " << node;
  }
  EXPECT_NE(after.shards(0).node_id(), old_primary);
}

// (5) kill -9 one of two routers mid-load: the clients switch to the other, nothing is lost.
TEST_F(ReplicationFaultsTest, KillingARouterLosesNothing) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.25, std::chrono::seconds(4)));
  routers_[0]->Kill();
  std::this_thread::sleep_for(Phase(0.75, std::chrono::seconds(12)));
  const Figures figures = Check("kill -9 router", 1);
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    EXPECT_LT(figures.outage[shard], 2.0) << "shard " << shard << ": switching routers";
  }
}

// (6) kill -9 the leader of a 3-member etcd cluster mid-load, the member every data node and
// router was started talking to (it is first in their --etcd list of all three): the others elect
// a new leader, which keeps the leases; nodes and routers move on to a live member. Writes and
// searches go on, no data node loses its lease: no shard fails over (same primary, same epoch) and
// every node stays registered.
class ReplicationFaultsEtcdTest : public ReplicationFaultsTest {
 protected:
  ClusterSetup Setup() const override { return {.etcd_members = 3, .node_flags = {}}; }
};

TEST_F(ReplicationFaultsEtcdTest, KillingTheEtcdLeaderFailsNothingOver) {
  StartLoad();
  std::this_thread::sleep_for(Phase(0.25, std::chrono::seconds(4)));
  const v1::CollectionInfo before = Describe(0);
  int leader = -1;
  ASSERT_TRUE(Eventually([&] { return (leader = etcd_->Leader()) >= 0; }, std::chrono::seconds(5)));
  etcd_->member(leader).Kill();
  // Leadership may have moved since the start (then the clients' first member lives on).
  std::cout << "[kill -9 etcd leader] killed member " << leader << ", "
            << (etcd_->endpoints(leader) == etcd_endpoints_ ? "" : "not ")
            << "the one the nodes and routers used\n";
  std::this_thread::sleep_for(Phase(0.75, std::chrono::seconds(12)));
  std::cout << "[kill -9 etcd leader] new leader: member " << etcd_->Leader() << "\n";

  Check("kill -9 etcd leader", 0);
  const v1::CollectionInfo after = Describe(0);
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    EXPECT_EQ(after.shards(shard).epoch(), before.shards(shard).epoch()) << "shard " << shard;
    EXPECT_EQ(after.shards(shard).node_id(), before.shards(shard).node_id()) << "shard " << shard;
  }
  EXPECT_EQ(NodeCounter("adanns_replication_failovers_total", {}), 0);
  EXPECT_TRUE(AwaitRegisteredNodes(*etcd_->NewClient(), "t", 3, std::chrono::seconds(1)));
}

}  // namespace
}  // namespace adanns::testing
