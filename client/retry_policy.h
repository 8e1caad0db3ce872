// Retries of idempotent calls on UNAVAILABLE (a server restarting, a failover): exponential
// backoff with jitter, bounded in attempts and in time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>

#include "absl/status/status.h"

namespace adanns::client {

struct RetryOptions {
  // Attempts of one call, the first included; 1 turns retries off.
  // Default: 20 (max_retry_time is normally the bound that ends the retries).
  int max_attempts = 20;
  // Wait before the first retry.
  // Default: 50 ms.
  std::chrono::milliseconds initial_backoff{50};
  // Each later wait is this many times the previous one, up to max_backoff.
  // Default: 2.
  double backoff_multiplier = 2.0;
  // Longest wait between two attempts.
  // Default: 1 s.
  std::chrono::milliseconds max_backoff{1000};
  // No retry starts later than this after the first attempt began (nor after the call's own
  // deadline); zero turns retries off. Covers a restart or a lease-expiry failover (5 s leases).
  // Default: 10 s.
  std::chrono::milliseconds max_retry_time{10000};
};

// Called before each retry's wait: the attempt that failed (1 = the first), its status, and the
// wait. For logging; may be empty.
using RetryObserver =
    std::function<void(int failed_attempt, const absl::Status& status, std::chrono::milliseconds)>;

// Only UNAVAILABLE is retried: the call did not reach a serving server, or the server asked to be
// tried again. DEADLINE_EXCEEDED is not: the call's time is spent.
bool IsRetryable(const absl::Status& status);

// The waits between attempts: base = initial_backoff * multiplier^n, capped at max_backoff; each
// wait is drawn uniformly from [base / 2, base] ("equal jitter"), so concurrent clients spread out
// while every wait still grows and stays within max_backoff. Not thread-safe; one per call.
class RetryBackoff {
 public:
  RetryBackoff(const RetryOptions& options, uint64_t seed);

  // The wait before the next retry.
  std::chrono::milliseconds NextWait();

 private:
  RetryOptions options_;
  double base_ms_;
  std::mt19937_64 random_;
};

// Spends one wait between attempts, returning once it has passed. Empty: sleeps.
using BackoffWait = std::function<void(std::chrono::milliseconds)>;

// Runs `attempt` until it returns anything but UNAVAILABLE, the attempts run out, or the next
// wait would end after max_retry_time (counted from the first attempt) or after `call_deadline`.
// `attempt` must be idempotent and must make a fresh grpc::ClientContext each time. After a
// retry, a final error's message says how many attempts were made.
absl::Status RunWithRetries(const RetryOptions& options,
                            std::optional<std::chrono::system_clock::time_point> call_deadline,
                            const std::function<absl::Status()>& attempt,
                            const RetryObserver& observer = nullptr,
                            const BackoffWait& wait = nullptr);

}  // namespace adanns::client
