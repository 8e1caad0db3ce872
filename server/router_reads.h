// How the router reads a replicated shard: a session key pins the copy that answers, and a shard
// call whose copy fails is retried on another in-sync copy, or hedged there once it has taken
// longer than a percentile of the shard's recent latencies (The Tail at Scale, Dean and Barroso).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adanns/v1/cluster.grpc.pb.h"
#include "server/shard_fanout.h"

namespace adanns::server {

class Metrics;

// The index in [0, copies) of the copy that serves `session_key` on `shard` (copies > 0): the same
// on every call, router and restart (FNV-1a of the key, mixed with the shard number, so one
// session's shards spread over the nodes).
size_t SessionCopy(const std::string& session_key, uint32_t shard, size_t copies);

// The latencies of a shard's last `capacity` answered calls. Thread-safe.
class LatencyWindow {
 public:
  explicit LatencyWindow(size_t capacity = 256);
  void Add(absl::Duration latency);
  size_t size() const;
  // The nearest-rank `percentile` (in (0, 100]) of the window; nullopt while it holds fewer than
  // `min_samples`.
  std::optional<absl::Duration> Percentile(double percentile, size_t min_samples) const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mutex_;
  std::vector<absl::Duration> samples_;  // a ring once full
  size_t next_ = 0;                      // where the next sample goes once full
};

struct HedgePolicy {
  // Percentile of a shard's latency window after which its call goes to a second copy too;
  // 0 = never (--hedge_percentile).
  // Default: 95.
  double percentile = 95;
  // Samples a window needs before its percentile is trusted.
  // Default: 20.
  size_t min_samples = 20;
  // Least wait before hedging: below it a hedge costs a copy more than it saves.
  // Default: 2 ms.
  absl::Duration floor = absl::Milliseconds(2);
};

// How long a call may run before it is hedged: the window's percentile, at least the floor;
// nullopt when hedging is off, the window is too young, or the wait would reach `time_left`.
std::optional<absl::Duration> HedgeDelay(const HedgePolicy& policy, const LatencyWindow& window,
                                         absl::Duration time_left);

using ReadClock = std::chrono::steady_clock;

// One shard's part of a read: the copy routed to (null: its node is not live) and another
// in-sync copy (null: none), and when the call to the first goes to the second too.
struct ShardReadPlan {
  bool ask = true;  // false: the shard has no part in this read (answers OK, empty)
  std::shared_ptr<v1::ShardService::Stub> first;
  std::shared_ptr<v1::ShardService::Stub> backup;
  std::optional<ReadClock::time_point> hedge_at;
};

// What happened beyond a shard's first copy.
enum class Backup {
  kNone,       // the first copy's answer
  kRetried,    // the first copy could not answer; the backup was asked
  kHedgeWon,   // hedged: the backup answered first
  kFirstWon,   // hedged: the first copy answered first
  kHedgeLost,  // hedged: neither answered
};

struct ShardRead {
  Backup backup = Backup::kNone;
  // How long the call that answered took (from its own start); nullopt when none answered.
  std::optional<absl::Duration> latency;
};

// The decisions of a read, apart from its calls: when to ask a shard's backup (at once when the
// first copy could not answer; at hedge_at while it has not), which call to cancel, and which
// answer is the shard's. A copy's answer settles its shard when it is OK or a verdict on the
// request (every copy gives alike). Not thread-safe.
class ReadRace {
 public:
  // Copy 0 of every asked shard counts as started at `now`.
  ReadRace(const std::vector<ShardReadPlan>& plans, ReadClock::time_point now);
  void Finished(size_t shard, int copy, grpc::Status status, ReadClock::time_point now);
  struct Actions {
    std::vector<size_t> ask_backup;              // shards whose copy 1 starts now
    std::vector<std::pair<size_t, int>> cancel;  // (shard, copy) calls no longer needed
  };
  // Settles what can be settled at `now`; the calls to start and cancel.
  Actions Next(ReadClock::time_point now);
  // Every shard settled and no call in flight.
  bool Done() const;
  // The earliest hedge still to come.
  std::optional<ReadClock::time_point> NextHedge() const;
  // The copy whose answer is the shard's (once Done) and its status.
  int Winner(size_t shard) const { return shards_[shard].winner; }
  const grpc::Status& Status(size_t shard) const;
  std::vector<ShardRead> Reads() const;

 private:
  struct Call {
    bool started = false;
    bool finished = false;
    bool cancelled = false;
    grpc::Status status;
    ReadClock::time_point began;
    ReadClock::time_point ended;
  };
  struct Shard {
    bool has_backup = false;
    std::optional<ReadClock::time_point> hedge_at;
    std::array<Call, 2> calls;
    bool hedged = false;  // copy 1 was asked while copy 0 was still running
    int winner = -1;      // settled once >= 0
  };
  void Settle(size_t shard, int winner, Actions* actions);
  std::vector<Shard> shards_;
};

// Starts one shard call on `stub`; must call `done` exactly once (e.g. by passing it to an
// async() method).
template <typename Response>
using StartRead =
    std::function<void(size_t shard, v1::ShardService::Stub& stub, grpc::ClientContext*, Response*,
                       std::function<void(grpc::Status)> done)>;

// Reads every asked shard of `plans` over gRPC's callback API: the calling thread only waits (for
// answers or the next hedge). Each shard's reply is its winning call's; *reads how each went.
template <typename Response>
std::vector<ShardReply<Response>> ReadEveryShard(const std::vector<ShardReadPlan>& plans,
                                                 std::chrono::system_clock::time_point deadline,
                                                 const StartRead<Response>& start,
                                                 std::vector<ShardRead>* reads) {
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    Response response;
  };
  std::vector<std::array<Call, 2>> calls(plans.size());
  absl::Mutex mutex;
  ReadRace race(plans, ReadClock::now());  // guarded by mutex
  uint64_t events = 0;                     // finished calls, guarded by mutex
  auto launch = [&](size_t shard, int copy) {
    Call& call = calls[shard][copy];
    call.context = std::make_unique<grpc::ClientContext>();
    call.context->set_deadline(deadline);
    auto done = [&, shard, copy](grpc::Status status) {
      absl::MutexLock lock(&mutex);
      race.Finished(shard, copy, std::move(status), ReadClock::now());
      ++events;
    };
    const auto& stub = copy == 0 ? plans[shard].first : plans[shard].backup;
    if (stub == nullptr) {
      done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is not live"));
      return;
    }
    start(shard, *stub, call.context.get(), &call.response, std::move(done));
  };
  for (size_t shard = 0; shard < plans.size(); ++shard) {
    if (plans[shard].ask) launch(shard, 0);
  }
  for (;;) {
    ReadRace::Actions actions;
    std::optional<ReadClock::time_point> hedge;
    uint64_t seen;
    {
      absl::MutexLock lock(&mutex);
      actions = race.Next(ReadClock::now());
      if (race.Done()) break;
      hedge = race.NextHedge();
      seen = events;
    }
    // Outside the lock: a call may finish (and lock) inside start or TryCancel.
    for (size_t shard : actions.ask_backup) launch(shard, 1);
    for (const auto& [shard, copy] : actions.cancel) calls[shard][copy].context->TryCancel();
    if (!actions.ask_backup.empty() || !actions.cancel.empty()) continue;
    auto changed = [&] { return events != seen; };
    absl::MutexLock lock(&mutex);
    if (hedge.has_value()) {
      mutex.AwaitWithDeadline(absl::Condition(&changed),
                              absl::Now() + absl::FromChrono(*hedge - ReadClock::now()));
    } else {
      mutex.Await(absl::Condition(&changed));
    }
  }
  std::vector<ShardReply<Response>> replies(plans.size());
  absl::MutexLock lock(&mutex);
  for (size_t shard = 0; shard < plans.size(); ++shard) {
    if (!plans[shard].ask) continue;
    const int winner = race.Winner(shard);
    replies[shard].status = race.Status(shard);
    replies[shard].response = std::move(calls[shard][winner].response);
  }
  *reads = race.Reads();
  return replies;
}

// The router's reads: a latency window per collection, shard and kind of call (a SearchBatch
// takes longer than a Search), the hedging policy, and the counters
// (adanns_router_hedged_requests_total, adanns_router_retried_requests_total).
class ShardReads {
 public:
  ShardReads(HedgePolicy policy, Metrics* metrics) : policy_(policy), metrics_(metrics) {}

  // Reads `collection` as `plans` say; `hedge` false: retries only (calls whose latency is not a
  // search's). The windows and counters learn how it went.
  template <typename Response>
  std::vector<ShardReply<Response>> Read(const std::string& collection,
                                         std::vector<ShardReadPlan> plans,
                                         std::chrono::system_clock::time_point deadline, bool hedge,
                                         const StartRead<Response>& start) {
    const std::string& kind = Response::descriptor()->name();
    if (hedge) SetHedgeTimes(collection, kind, deadline, &plans);
    std::vector<ShardRead> reads;
    std::vector<ShardReply<Response>> replies =
        ReadEveryShard<Response>(plans, deadline, start, &reads);
    Learn(collection, kind, hedge, reads);
    return replies;
  }

 private:
  using WindowKey = std::tuple<std::string, std::string, size_t>;  // collection, kind, shard
  std::shared_ptr<LatencyWindow> WindowOf(const WindowKey& key);
  void SetHedgeTimes(const std::string& collection, const std::string& kind,
                     std::chrono::system_clock::time_point deadline,
                     std::vector<ShardReadPlan>* plans);
  void Learn(const std::string& collection, const std::string& kind, bool hedge,
             const std::vector<ShardRead>& reads);

  const HedgePolicy policy_;
  Metrics* const metrics_;  // may be null
  std::mutex mutex_;        // guards windows_
  std::map<WindowKey, std::shared_ptr<LatencyWindow>> windows_;
};

}  // namespace adanns::server
