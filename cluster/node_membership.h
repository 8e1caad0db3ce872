// Keeps this data node registered in etcd (a NodeRecord at /<cluster>/nodes/<node_id>, under the
// node's lease) from a background thread. etcd unreachable at start-up, or the node id still held
// by a previous incarnation whose lease has not run out, is logged and retried, never fatal.
#pragma once

#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adanns/v1/cluster.pb.h"
#include "cluster/etcd_client.h"
#include "cluster/lease_registration.h"
#include "cluster/role_options.h"

namespace adanns::cluster {

class NodeMembership {
 public:
  // `options` resolved (ResolveAdvertise done). Fails only on bad options; reaching etcd is the
  // background thread's job. `restored_maps`: the shard maps of a node restored from a cluster
  // snapshot, recorded once registered where etcd has no record of the collection (create-only,
  // so a collection recorded meanwhile is left as it is).
  static absl::StatusOr<std::unique_ptr<NodeMembership>> Start(
      const RoleOptions& options, std::vector<adanns::v1::ShardMapRecord> restored_maps = {});
  // Leaves the cluster at once (revokes the lease) and stops the thread.
  ~NodeMembership();
  NodeMembership(const NodeMembership&) = delete;
  NodeMembership& operator=(const NodeMembership&) = delete;

  // UNAVAILABLE with the last error when not registered within `timeout`.
  absl::Status AwaitRegistered(absl::Duration timeout);

 private:
  NodeMembership(std::unique_ptr<EtcdClient> client, std::string key, std::string record,
                 absl::Duration ttl, std::vector<std::pair<std::string, std::string>> restored);
  void Register();
  void RecordRestoredMaps();

  const std::unique_ptr<EtcdClient> client_;
  const std::string key_;
  const std::string record_;
  const absl::Duration ttl_;
  const std::vector<std::pair<std::string, std::string>> restored_;  // etcd key, record

  absl::Mutex mutex_;
  std::unique_ptr<LeaseRegistration> registration_ ABSL_GUARDED_BY(mutex_);
  absl::Status last_error_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace adanns::cluster
