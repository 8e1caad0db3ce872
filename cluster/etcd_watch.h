// A live copy of every key under an etcd prefix (the node list, the shard maps): list, then
// follow etcd's watch from the next revision; after a broken stream or a compaction, list again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/etcd_client.h"

namespace adanns::cluster {

class EtcdPrefixWatch {
 public:
  using Snapshot = std::map<std::string, EtcdKeyValue, std::less<>>;
  // Called from the watch's thread with the whole prefix after every change (and after each
  // listing); the prefixes watched are small, so handing over the whole set keeps callers simple.
  using OnChange = std::function<void(const Snapshot&)>;

  // Starts following `prefix`; `client` must outlive the watch. `on_change` may be empty.
  EtcdPrefixWatch(EtcdClient* client, std::string prefix, OnChange on_change = {});
  // Stops the stream and joins the thread.
  ~EtcdPrefixWatch();
  EtcdPrefixWatch(const EtcdPrefixWatch&) = delete;
  EtcdPrefixWatch& operator=(const EtcdPrefixWatch&) = delete;

  // Waits until the prefix has been listed at least once; UNAVAILABLE naming the last error when
  // that did not happen within `timeout`.
  absl::Status AwaitSynced(absl::Duration timeout);
  // Waits until the copy reflects etcd's store at `revision` or later (e.g. one's own write).
  absl::Status AwaitRevision(int64_t revision, absl::Duration timeout);
  Snapshot Current() const;
  // One key of the copy (no copy of the rest: routers look one up per request).
  std::optional<EtcdKeyValue> Find(absl::string_view key) const;

 private:
  void Run();
  // Lists the prefix and follows the stream until it ends; the error that ended it.
  absl::Status ListAndFollow();
  void Publish(int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  EtcdClient* const client_;
  const std::string prefix_;
  const OnChange on_change_;

  mutable absl::Mutex mutex_;
  Snapshot snapshot_ ABSL_GUARDED_BY(mutex_);
  int64_t revision_ ABSL_GUARDED_BY(mutex_) = 0;
  bool synced_ ABSL_GUARDED_BY(mutex_) = false;
  absl::Status last_error_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::ClientContext* stream_context_ ABSL_GUARDED_BY(mutex_) = nullptr;
  std::thread thread_;
};

}  // namespace adanns::cluster
