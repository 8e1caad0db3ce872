#include "cluster/lease_registration.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::cluster {

absl::StatusOr<std::unique_ptr<LeaseRegistration>> LeaseRegistration::Start(EtcdClient* client,
                                                                            std::string key,
                                                                            std::string value,
                                                                            absl::Duration ttl) {
  ASSIGN_OR_RETURN(const int64_t lease, client->GrantLease(ttl));
  absl::StatusOr<bool> created = client->CompareAndPut(key, value, 0, lease);
  if (!created.ok() || !*created) {
    (void)client->RevokeLease(lease);
    if (!created.ok()) return created.status();
    return absl::AlreadyExistsError(
        absl::StrCat("etcd key ", key, " is held by another live lease"));
  }
  return std::unique_ptr<LeaseRegistration>(
      new LeaseRegistration(client, std::move(key), std::move(value), ttl, lease));
}

LeaseRegistration::LeaseRegistration(EtcdClient* client, std::string key, std::string value,
                                     absl::Duration ttl, int64_t lease)
    : client_(client), key_(std::move(key)), value_(std::move(value)), ttl_(ttl), lease_(lease) {
  thread_ = std::thread([this] { Renew(); });
}

LeaseRegistration::~LeaseRegistration() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  // The lease is read once the thread has stopped: a re-registration it was in the middle of has
  // put the key under a new lease, which is the one to revoke.
  thread_.join();
  int64_t lease;
  {
    absl::MutexLock lock(&mutex_);
    lease = lease_;
  }
  (void)client_->RevokeLease(lease);  // best effort: otherwise the key goes when the TTL runs out
}

int64_t LeaseRegistration::lease() const {
  absl::MutexLock lock(&mutex_);
  return lease_;
}

int LeaseRegistration::re_registrations() const {
  absl::MutexLock lock(&mutex_);
  return re_registrations_;
}

void LeaseRegistration::Renew() {
  // A third of the TTL: two renewals can fail (an etcd leader election) before the lease ends.
  const absl::Duration period = ttl_ / 3;
  absl::MutexLock lock(&mutex_);
  while (!mutex_.AwaitWithTimeout(absl::Condition(&stopping_), period)) {
    const int64_t lease = lease_;
    mutex_.Unlock();
    absl::Status renewed = client_->KeepAlive(lease).status();
    int64_t new_lease = 0;
    if (absl::IsNotFound(renewed)) {
      // The lease expired (etcd was unreachable for longer than the TTL) and took the key with
      // it: register again under a new lease. On failure the next period tries again.
      absl::StatusOr<int64_t> granted = client_->GrantLease(ttl_);
      if (granted.ok()) {
        absl::StatusOr<bool> created = client_->CompareAndPut(key_, value_, 0, *granted);
        if (created.ok() && *created) {
          new_lease = *granted;
        } else {
          (void)client_->RevokeLease(*granted);
        }
      }
    }
    mutex_.Lock();
    if (new_lease != 0) {
      lease_ = new_lease;
      ++re_registrations_;
    }
  }
}

}  // namespace adanns::cluster
