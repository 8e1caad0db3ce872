// ReplicationManager::Group: one replicated shard as this data node sees it. Internal to the
// replication sources (replication_*.cc, failover_controller.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adanns/v1/cluster.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/replication.h"
#include "server/shard_host.h"

namespace adanns::server {

struct ReplicationManager::Group {
  std::string collection;
  uint32_t shard = 0;
  std::string state_key;
  std::vector<std::string> replicas;
  uint32_t min_in_sync = 1;
  int64_t collection_revision = 0;

  std::mutex mutex;
  // Acks, a new state, a new write, a stop: whoever waits on the group re-checks.
  std::condition_variable changed;
  std::shared_ptr<HostedShard> hosted;  // null until the shard is created here
  v1::ShardStateRecord state;
  int64_t state_mod_revision = 0;  // of the etcd record; 0 while absent
  // Followers streaming from this node (primary): the primary's WAL sequence each applied through.
  std::map<std::string, uint64_t> acked;
  std::map<std::string, int> streams;  // open streams per follower (a reconnect overlaps)
  uint64_t last_write_seq = 0;         // wakes the senders
  // When the latest writes committed here (primary), oldest first, for adanns_replication_lag_
  // seconds; bounded, so a follower further behind than all of them lags at least the oldest.
  std::deque<std::pair<uint64_t, std::chrono::steady_clock::time_point>> recent_writes;
  // Follower side: the stream in flight (cancelled when the state changes) and the thread.
  grpc::ClientContext* follow_context = nullptr;
  bool stop_following = false;
  std::thread follower;
  bool follower_done = false;  // the thread returned (this node became primary)

  // Serialises in-sync set changes with writes reading the set (see AwaitReplicated).
  std::mutex membership;

  bool IsPrimary(const std::string& node) const { return state.primary() == node; }
  // Under `mutex`: a write committed at `seq` now; how long the oldest write after `through` has
  // waited (0: none).
  void NoteWrite(uint64_t seq, std::chrono::steady_clock::time_point now) {
    constexpr size_t kRecentWrites = 4096;
    if (!recent_writes.empty() && recent_writes.back().first >= seq) return;  // keep them sorted
    recent_writes.emplace_back(seq, now);
    if (recent_writes.size() > kRecentWrites) recent_writes.pop_front();
  }
  std::chrono::duration<double> OldestUnacked(uint64_t through,
                                              std::chrono::steady_clock::time_point now) const {
    const auto oldest =
        std::upper_bound(recent_writes.begin(), recent_writes.end(), through,
                         [](uint64_t seq, const auto& write) { return seq < write.first; });
    if (oldest == recent_writes.end()) return std::chrono::duration<double>(0);
    return now - oldest->second;
  }
  bool InSync(const std::string& node) const {
    for (const std::string& member : state.in_sync()) {
      if (member == node) return true;
    }
    return false;
  }
};

}  // namespace adanns::server
