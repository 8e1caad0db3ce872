// Paces background work to a share of one core: after each piece of work, the thread pauses for
// what keeps its CPU time within that share. For work that competes with searches through more
// than the CPU (an exact scan streams the table through the caches and memory bandwidth every
// search shares), which neither nice values nor the idle class limit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace adanns::server {

class DutyCycle {
 public:
  // What a piece of work is measured in: the thread's CPU time (preempted time is not the
  // thread's work), or wall time (preempted time counts: longer pauses on a busy machine).
  enum class Clock { kThreadCpu, kWall };

  // `share` of one core, in (0, 1].
  explicit DutyCycle(double share, Clock clock = Clock::kThreadCpu);

  // Times one piece of work on the calling thread. The next Pause owes what the piece took
  // × (1 - share) / share.
  void BeginPiece();
  void EndPiece();
  // Waits out what the last piece owes (then nothing is owed), or less if Interrupt comes.
  void Pause();
  // Ends the current pause and every later one at once, until Reset.
  void Interrupt();
  // Owes nothing, interrupted no more, no time paused; only while no thread paces.
  void Reset();
  // Time spent in Pause since Reset.
  std::chrono::nanoseconds paused() const { return std::chrono::nanoseconds(paused_ns_.load()); }

 private:
  int64_t NowNanos() const;

  const double share_;
  const Clock clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool interrupted_ = false;  // guarded by mutex_
  // The pacing thread's own: clock_ at BeginPiece, what the next Pause owes.
  int64_t piece_start_ns_ = 0;
  std::chrono::nanoseconds owed_{0};
  std::atomic<int64_t> paused_ns_{0};
};

}  // namespace adanns::server
