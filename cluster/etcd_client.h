// A synchronous client for what the cluster needs of etcd's v3 API: reads of a key or a prefix,
// puts, deletes, compare-and-swap transactions and leases, over stubs generated from etcd's protos.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace adanns::cluster {

struct EtcdOptions {
  // HOST:PORT of each etcd member. A call goes to the member that answered last and moves on to
  // the next when one is unreachable. Required, at least one.
  std::vector<std::string> endpoints;
  // Deadline of one call to one member. Default: 5 s.
  absl::Duration call_timeout = absl::Seconds(5);
  // Channel credentials (e.g. TLS to etcd). Default (null): plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// Parses "HOST:PORT[,HOST:PORT...]" (the --etcd flag): INVALID_ARGUMENT naming the bad entry.
absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(absl::string_view flag);

// One key with its revisions (etcd's mvccpb.KeyValue).
struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// etcd's range_end for "every key starting with prefix": the prefix with its last byte below
// 0xff incremented and what follows dropped ("\0" = to the end of the key space).
std::string EtcdPrefixRangeEnd(absl::string_view prefix);
EtcdKeyValue EtcdKeyValueFromProto(const mvccpb::KeyValue& kv);

// The keys under a prefix and the store revision they were read at.
struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  int64_t revision = 0;
};

class EtcdClient {
 public:
  // Validates the options; connects lazily (the first call reaches etcd).
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdOptions options);
  ~EtcdClient();

  // The key's value, or nullopt when absent. UNAVAILABLE (naming the endpoints) when no member
  // answers.
  absl::StatusOr<std::optional<EtcdKeyValue>> Get(absl::string_view key);
  // Every key starting with `prefix`, in key order.
  absl::StatusOr<EtcdRange> GetPrefix(absl::string_view prefix);
  // Writes the key (attached to `lease` when non-zero); returns the new store revision.
  absl::StatusOr<int64_t> Put(absl::string_view key, absl::string_view value, int64_t lease = 0);
  // Writes the key only when its mod_revision is `expected_mod_revision` (0: only when absent),
  // in one etcd transaction. False, writing nothing, when the key moved on (another writer won).
  absl::StatusOr<bool> CompareAndPut(absl::string_view key, absl::string_view value,
                                     int64_t expected_mod_revision, int64_t lease = 0);
  // One key of CompareAndPutAll.
  struct GuardedPut {
    std::string key;
    std::string value;
    int64_t expected_mod_revision = 0;  // 0: only when absent
  };
  // Writes every key, each only when its mod_revision is as expected, in one etcd transaction:
  // all or nothing. False, writing nothing, when any key moved on.
  absl::StatusOr<bool> CompareAndPutAll(const std::vector<GuardedPut>& puts);
  // Deletes the key; returns how many keys were deleted (0 or 1).
  absl::StatusOr<int64_t> Delete(absl::string_view key);

  // A lease etcd expires after `ttl` without a keep-alive; returns its id.
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl);
  // Renews the lease; returns the TTL granted (seconds). NOT_FOUND when it already expired.
  absl::StatusOr<int64_t> KeepAlive(int64_t lease);
  // Ends the lease now, deleting the keys attached to it.
  absl::Status RevokeLease(int64_t lease);

  // The watch stub of the member that answered last, with its channel kept alive by the client
  // (for EtcdPrefixWatch, which runs its own stream).
  etcdserverpb::Watch::StubInterface* WatchStub();
  const EtcdOptions& options() const { return options_; }

 private:
  struct Member;
  explicit EtcdClient(EtcdOptions options);

  // Runs `call` against the member that answered last, then each other member in turn while the
  // failure is UNAVAILABLE or DEADLINE_EXCEEDED (the member is down or partitioned).
  template <typename Call>
  absl::Status OnAnyMember(absl::string_view what, Call&& call);
  static void AddGuardedPut(absl::string_view key, absl::string_view value,
                            int64_t expected_mod_revision, int64_t lease,
                            etcdserverpb::TxnRequest* request);
  // True when every compare held (the puts were applied).
  absl::StatusOr<bool> CommitTxn(const etcdserverpb::TxnRequest& request);

  EtcdOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  absl::Mutex mutex_;
  size_t preferred_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace adanns::cluster
