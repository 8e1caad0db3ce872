// Thread priorities: a thread enters the idle class only where it can leave it again, and leaves it
// at the nice value it had (the absorber's short exclusive holds must run in the normal class).
#include "server/thread_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "base/writer_priority_mutex.h"
#include "gtest/gtest.h"

namespace adanns::server {
namespace {

int ThisThreadNice() { return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))); }

constexpr int kNice = 19;

TEST(ThreadPriorityTest, IdleClassScopeReturnsToTheNormalClassAtTheSameNice) {
  std::thread thread([] {
    LowerThisThreadPriority(kNice);
    ASSERT_EQ(ThisThreadNice(), kNice);
    for (int round = 0; round < 3; ++round) {
      {
        const IdleClassScope idle(kNice);
        EXPECT_EQ(idle.idle(), IdleClassIsReversible(kNice));
        EXPECT_EQ(sched_getscheduler(0), idle.idle() ? SCHED_IDLE : SCHED_OTHER);
      }
      EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER) << "round " << round;
      EXPECT_EQ(ThisThreadNice(), kNice) << "round " << round;
    }
  });
  thread.join();
}

// Another thread (one waiting for what an idle-class thread holds) moves it back to the normal
// class, at its nice value.
TEST(ThreadPriorityTest, AnotherThreadMovesAThreadOutOfTheIdleClass) {
  if (!IdleClassIsReversible(kNice)) GTEST_SKIP() << "this process may not leave the idle class";
  std::atomic<int> tid{0};
  std::atomic<bool> moved{false};
  std::thread idle_thread([&] {
    LowerThisThreadPriority(kNice);
    const IdleClassScope idle(kNice);
    EXPECT_TRUE(idle.idle());
    tid = ThisThreadId();
    for (int wait = 0; wait < 10000 && !moved.load(); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (int wait = 0; wait < 10000 && tid.load() == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_NE(tid.load(), 0);
  EXPECT_EQ(sched_getscheduler(tid.load()), SCHED_IDLE);
  MoveThreadOutOfIdleClass(tid.load());
  EXPECT_EQ(sched_getscheduler(tid.load()), SCHED_OTHER);
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(tid.load())), kNice);
  MoveThreadOutOfIdleClass(tid.load());  // not idle: nothing changes
  EXPECT_EQ(sched_getscheduler(tid.load()), SCHED_OTHER);
  moved = true;
  idle_thread.join();
}

// The table mutex's hook as the server sets it: a writer that has waited the patience for a
// background hold taken in the idle class moves its holder out of the idle class, so the hold ends
// at the holder's nice value instead of waiting for an idle core.
TEST(ThreadPriorityTest, AWriterWaitingForAnIdleClassBackgroundHoldMovesItsHolderOut) {
  if (!IdleClassIsReversible(kNice)) GTEST_SKIP() << "this process may not leave the idle class";
  WriterPriorityMutex mutex;
  mutex.set_background_wait_hook(&MoveThreadOutOfIdleClass, std::chrono::milliseconds(5));
  std::atomic<int> tid{0};
  std::atomic<int> policy_after_writer{-1};
  std::thread holder([&] {
    LowerThisThreadPriority(kNice);
    const IdleClassScope idle(kNice);
    std::shared_lock lock(mutex.background());
    tid = ThisThreadId();
    // Until the writer has lifted this thread (bounded: the test fails if it never does).
    for (int wait = 0; wait < 10000 && sched_getscheduler(0) == SCHED_IDLE; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    policy_after_writer = sched_getscheduler(0);
  });
  for (int wait = 0; wait < 10000 && tid.load() == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_NE(tid.load(), 0);
  EXPECT_EQ(sched_getscheduler(tid.load()), SCHED_IDLE);  // no writer yet
  std::thread writer([&] { std::unique_lock lock(mutex); });
  writer.join();  // returns once the holder, out of the idle class, ended its hold
  holder.join();
  EXPECT_EQ(policy_after_writer.load(), SCHED_OTHER);
}

TEST(ThreadPriorityTest, RootMayLeaveTheIdleClass) {
  // CAP_SYS_NICE (root has it) allows any switch; unprivileged, RLIMIT_NICE decides.
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  EXPECT_TRUE(IdleClassIsReversible(kNice));
  EXPECT_TRUE(IdleClassIsReversible(0));
}

TEST(ThreadPriorityTest, ProbingLeavesTheCallerAlone) {
  const int nice_before = ThisThreadNice();
  IdleClassIsReversible(10);
  EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
  EXPECT_EQ(ThisThreadNice(), nice_before);
}

}  // namespace
}  // namespace adanns::server
