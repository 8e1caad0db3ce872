#include "server/duty_cycle.h"

#include <time.h>

namespace adanns::server {

DutyCycle::DutyCycle(double share, Clock clock) : share_(share), clock_(clock) {}

int64_t DutyCycle::NowNanos() const {
  if (clock_ == Clock::kWall) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

void DutyCycle::BeginPiece() { piece_start_ns_ = NowNanos(); }

void DutyCycle::EndPiece() {
  const auto took = static_cast<double>(NowNanos() - piece_start_ns_);
  owed_ = std::chrono::nanoseconds(static_cast<int64_t>(took * (1 - share_) / share_));
}

void DutyCycle::Pause() {
  if (owed_.count() <= 0) return;
  const auto start = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, owed_, [this] { return interrupted_; });
  }
  owed_ = std::chrono::nanoseconds(0);
  paused_ns_ +=
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
}

void DutyCycle::Interrupt() {
  {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
  }
  wake_.notify_all();
}

void DutyCycle::Reset() {
  std::lock_guard lock(mutex_);
  interrupted_ = false;
  owed_ = std::chrono::nanoseconds(0);
  paused_ns_ = 0;
}

}  // namespace adanns::server
