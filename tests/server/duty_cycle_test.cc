// The pacing of background work: a pause owes the last piece's time (CPU or wall) × (1 - share) /
// share, is owed once, and an interrupt ends it (and every later one) at once.
#include "server/duty_cycle.h"

#include <time.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace adanns::server {
namespace {

std::chrono::nanoseconds ThreadCpu() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// Uses at least `cpu` of this thread's CPU time; returns what it used.
std::chrono::nanoseconds Burn(std::chrono::nanoseconds cpu) {
  const auto start = ThreadCpu();
  volatile double sink = 0;
  while (ThreadCpu() - start < cpu) {
    for (int i = 0; i < 10000; ++i) sink = sink + i;
  }
  return ThreadCpu() - start;
}

TEST(DutyCycleTest, APauseOwesWhatThePieceUsedAndOnlyOnce) {
  DutyCycle pacing(0.25);  // a quarter: three times the piece's CPU time
  pacing.Pause();          // nothing owed yet
  EXPECT_EQ(pacing.paused().count(), 0);
  pacing.BeginPiece();
  const std::chrono::nanoseconds used = Burn(std::chrono::milliseconds(20));
  pacing.EndPiece();
  pacing.Pause();
  EXPECT_GE(pacing.paused(), 3 * used - std::chrono::microseconds(1));  // rounding of the share
  const std::chrono::nanoseconds after_first = pacing.paused();
  pacing.Pause();  // paid already
  EXPECT_EQ(pacing.paused(), after_first);
  pacing.Reset();
  EXPECT_EQ(pacing.paused().count(), 0);
}

TEST(DutyCycleTest, AWholeCoreNeverPauses) {
  DutyCycle pacing(1.0);
  pacing.BeginPiece();
  Burn(std::chrono::milliseconds(10));
  pacing.EndPiece();
  pacing.Pause();
  EXPECT_EQ(pacing.paused().count(), 0);
}

// A piece that sleeps: on the wall clock it owes its length, on the thread's CPU clock next to
// nothing (the recall check pauses by wall time, the automatic calibration by CPU time).
TEST(DutyCycleTest, OnlyTheWallClockCountsTimeOffTheCpu) {
  DutyCycle wall(0.5, DutyCycle::Clock::kWall);  // half: a pause as long as the piece
  DutyCycle cpu(0.5);
  wall.BeginPiece();
  cpu.BeginPiece();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  wall.EndPiece();
  cpu.EndPiece();
  wall.Pause();
  cpu.Pause();
  EXPECT_GE(wall.paused(), std::chrono::milliseconds(20));
  EXPECT_LT(cpu.paused(), wall.paused());
}

// A piece owing hours: the interrupt ends the pause (without it this test would hang until
// ctest's timeout), and later pauses end at once until Reset.
TEST(DutyCycleTest, AnInterruptEndsThePauseAndLaterOnes) {
  DutyCycle pacing(1e-6);
  std::thread paced([&] {
    pacing.BeginPiece();
    Burn(std::chrono::milliseconds(10));
    pacing.EndPiece();
    pacing.Pause();
    pacing.BeginPiece();
    Burn(std::chrono::milliseconds(10));
    pacing.EndPiece();
    pacing.Pause();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // usually inside the first pause
  pacing.Interrupt();
  paced.join();
  EXPECT_LT(pacing.paused(), std::chrono::hours(1));
}

}  // namespace
}  // namespace adanns::server
