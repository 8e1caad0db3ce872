// Bounded polling for the cluster tests: what etcd does on its own (expiring a lease, delivering a
// watch event) has no completion signal to wait on.
#pragma once

#include <chrono>
#include <thread>

namespace adanns::testing {

// Polls `condition` every 50 ms for at most `limit`; its last answer.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace adanns::testing
