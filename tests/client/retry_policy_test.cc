// RetryBackoff's waits (grow, capped, jitter within bounds) and RunWithRetries' rules: only
// UNAVAILABLE is retried, and the attempts, the retry time and the call deadline all bound it.
#include "client/retry_policy.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::client {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(RetryBackoffTest, WaitsGrowWithinTheirJitterBoundsUpToTheCap) {
  const RetryOptions options;  // 50 ms, x2, at most 1 s
  for (uint64_t seed = 0; seed < 50; ++seed) {
    RetryBackoff backoff(options, seed);
    int64_t base = 50;
    for (int retry = 0; retry < 12; ++retry) {
      const int64_t wait = backoff.NextWait().count();
      EXPECT_GE(wait, base / 2) << "seed " << seed << " retry " << retry;
      EXPECT_LE(wait, base) << "seed " << seed << " retry " << retry;
      base = std::min<int64_t>(base * 2, 1000);
    }
  }
}

TEST(RetryBackoffTest, JitterSpreadsTheWaitsOfDifferentClients) {
  const RetryOptions options;
  std::vector<int64_t> first_waits;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    RetryBackoff backoff(options, seed);
    for (int retry = 0; retry < 5; ++retry) backoff.NextWait();
    first_waits.push_back(backoff.NextWait().count());  // base 1 s: in [500, 1000]
  }
  std::sort(first_waits.begin(), first_waits.end());
  EXPECT_LT(first_waits.front(), first_waits.back());
}

TEST(RetryBackoffTest, ZeroOrNegativeSettingsStillGiveBoundedPositiveWaits) {
  RetryOptions options;
  options.initial_backoff = milliseconds(0);
  options.max_backoff = milliseconds(0);
  options.backoff_multiplier = 0.5;
  RetryBackoff backoff(options, 1);
  for (int retry = 0; retry < 5; ++retry) {
    const milliseconds wait = backoff.NextWait();
    EXPECT_GE(wait.count(), 0);
    EXPECT_LE(wait.count(), 1);
  }
}

// Fast retries for the tests below.
RetryOptions QuickOptions() {
  RetryOptions options;
  options.initial_backoff = milliseconds(1);
  options.max_backoff = milliseconds(4);
  return options;
}

TEST(RunWithRetriesTest, RetriesUnavailableUntilTheCallSucceeds) {
  int attempts = 0;
  std::vector<int> observed;
  const absl::Status status = RunWithRetries(
      QuickOptions(), std::nullopt,
      [&] {
        return ++attempts < 3 ? absl::UnavailableError("server restarting") : absl::OkStatus();
      },
      [&](int failed_attempt, const absl::Status& failure, milliseconds wait) {
        observed.push_back(failed_attempt);
        EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable);
        EXPECT_LE(wait.count(), 4);
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(observed, (std::vector<int>{1, 2}));
}

TEST(RunWithRetriesTest, OtherErrorsAreReturnedAtOnce) {
  for (const absl::Status& error :
       {absl::DeadlineExceededError("slow"), absl::InvalidArgumentError("bad k"),
        absl::NotFoundError("no collection"), absl::InternalError("bug")}) {
    int attempts = 0;
    const absl::Status status = RunWithRetries(QuickOptions(), std::nullopt, [&] {
      ++attempts;
      return error;
    });
    EXPECT_EQ(status, error);
    EXPECT_EQ(attempts, 1) << error;
  }
}

TEST(RunWithRetriesTest, StopsAfterMaxAttemptsAndSaysSo) {
  RetryOptions options = QuickOptions();
  options.max_attempts = 4;
  int attempts = 0;
  const absl::Status status = RunWithRetries(options, std::nullopt, [&] {
    ++attempts;
    return absl::UnavailableError("connection refused");
  });
  EXPECT_EQ(attempts, 4);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("connection refused"));
  EXPECT_THAT(status.message(), HasSubstr("gave up after 4 attempts"));
}

TEST(RunWithRetriesTest, OneAttemptOrNoRetryTimeMeansNoRetries) {
  RetryOptions one_attempt = QuickOptions();
  one_attempt.max_attempts = 1;
  RetryOptions no_time = QuickOptions();
  no_time.max_retry_time = milliseconds(0);
  for (const RetryOptions& options : {one_attempt, no_time}) {
    int attempts = 0;
    const absl::Status status = RunWithRetries(options, std::nullopt, [&] {
      ++attempts;
      return absl::UnavailableError("down");
    });
    EXPECT_EQ(attempts, 1);
    EXPECT_EQ(status, absl::UnavailableError("down"));  // unannotated: nothing was retried
  }
}

// Bounded, not forever: a server that never comes back ends the retries once max_retry_time is
// spent (and so does the call's deadline), though many attempts are still allowed.
TEST(RunWithRetriesTest, RetryTimeAndCallDeadlineBoundTheRetries) {
  RetryOptions options = QuickOptions();
  options.max_attempts = 1 << 30;
  options.max_retry_time = milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  int attempts = 0;
  absl::Status status = RunWithRetries(options, std::nullopt, [&] {
    ++attempts;
    return absl::UnavailableError("down");
  });
  EXPECT_THAT(status.message(), HasSubstr("time for retries spent"));
  EXPECT_GT(attempts, 1);
  // Generous: 200 ms of retries, checked against a bound far above it.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  options.max_retry_time = std::chrono::hours(1);
  attempts = 0;
  status = RunWithRetries(options, std::chrono::system_clock::now() + milliseconds(200), [&] {
    ++attempts;
    return absl::UnavailableError("down");
  });
  EXPECT_THAT(status.message(), HasSubstr("time for retries spent"));
  EXPECT_GT(attempts, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

}  // namespace
}  // namespace adanns::client
