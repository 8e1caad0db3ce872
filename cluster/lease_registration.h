// A key that exists while this process lives: written under an etcd lease that a thread keeps
// alive. A data node registers itself this way; when it dies, etcd expires the lease and the key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/etcd_client.h"

namespace adanns::cluster {

class LeaseRegistration {
 public:
  // Grants a lease of `ttl` (>= 1 s), creates `key` -> `value` under it and starts renewing it
  // every ttl/3. ALREADY_EXISTS when the key exists (another live process holds it, or a crashed
  // one whose lease has not yet run out); UNAVAILABLE when etcd does not answer. Nothing is left
  // behind on failure. `client` must outlive
  // the registration.
  static absl::StatusOr<std::unique_ptr<LeaseRegistration>> Start(EtcdClient* client,
                                                                  std::string key,
                                                                  std::string value,
                                                                  absl::Duration ttl);
  // Stops renewing and revokes the lease, so the key disappears now rather than after the TTL.
  ~LeaseRegistration();
  LeaseRegistration(const LeaseRegistration&) = delete;
  LeaseRegistration& operator=(const LeaseRegistration&) = delete;

  // The current lease (a new one after the old one expired while etcd was unreachable).
  int64_t lease() const;
  // Times the key was written again under a new lease after its lease expired.
  int re_registrations() const;

 private:
  LeaseRegistration(EtcdClient* client, std::string key, std::string value, absl::Duration ttl,
                    int64_t lease);
  void Renew();

  EtcdClient* const client_;
  const std::string key_;
  const std::string value_;
  const absl::Duration ttl_;

  mutable absl::Mutex mutex_;
  int64_t lease_ ABSL_GUARDED_BY(mutex_);
  int re_registrations_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace adanns::cluster
