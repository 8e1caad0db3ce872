// The table lock: a waiting writer holds back new searches (plain shared holds) but never makes
// them wait for a background hold; background readers are held back while a writer waits and
// get their turn once it holds the lock; exclusion holds under a mixed stress. Waits are observed
// through the lock's own state (tryrdlock, writers_draining), in bounded polling loops.
#include "base/writer_priority_mutex.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace adanns {
namespace {

// Polls `condition` for up to 30 s (a loaded CI machine); true once it held.
template <typename Condition>
bool Eventually(Condition condition) {
  for (int i = 0; i < 30000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(WriterPriorityMutexTest, AWriterWaitingBehindASearchHoldsBackNewSearches) {
  WriterPriorityMutex mutex;
  mutex.lock_shared();  // a running search
  std::atomic<bool> written{false};
  std::thread writer([&] {
    std::unique_lock lock(mutex);
    written = true;
  });
  // Once the writer waits in the rwlock, a new search cannot enter.
  EXPECT_TRUE(Eventually([&] {
    if (!mutex.try_lock_shared()) return true;
    mutex.unlock_shared();
    return false;
  }));
  EXPECT_FALSE(written.load());
  mutex.unlock_shared();
  writer.join();
  EXPECT_TRUE(written.load());
}

TEST(WriterPriorityMutexTest, AWriterWaitingBehindABackgroundHoldLetsSearchesIn) {
  WriterPriorityMutex mutex;
  mutex.background().lock_shared();  // a preempted calibration step, say
  std::atomic<bool> written{false};
  std::thread writer([&] {
    std::unique_lock lock(mutex);
    written = true;
  });
  ASSERT_TRUE(Eventually([&] { return mutex.writers_draining() == 1; }));
  // Searches still enter and leave while the writer waits; new background holds do not.
  for (int search = 0; search < 100; ++search) {
    ASSERT_TRUE(mutex.try_lock_shared()) << "search " << search;
    mutex.unlock_shared();
  }
  EXPECT_FALSE(mutex.background().try_lock_shared());
  EXPECT_FALSE(written.load());
  mutex.background().unlock_shared();
  writer.join();
  EXPECT_TRUE(written.load());
  EXPECT_EQ(mutex.writers_draining(), 0u);
  ASSERT_TRUE(mutex.background().try_lock_shared());
  mutex.background().unlock_shared();
}

// The hook's record of the thread ids it was called with (a plain function pointer: no capture).
std::mutex hooked_mutex;
std::vector<int> hooked_ids;
void RecordHookedId(int thread_id) {
  std::lock_guard lock(hooked_mutex);
  hooked_ids.push_back(thread_id);
}
int KernelThreadId() { return static_cast<int>(syscall(SYS_gettid)); }

size_t HookedCount() {
  std::lock_guard lock(hooked_mutex);
  return hooked_ids.size();
}

// A writer that has waited the hook's patience names the background holders to the hook (the
// server moves them out of the idle class there), each once, and only the holders: a thread whose
// hold ended is not named.
TEST(WriterPriorityMutexTest, AWriterWaitingForBackgroundHoldsNamesTheirThreadsToTheHook) {
  hooked_ids.clear();
  WriterPriorityMutex mutex;
  mutex.set_background_wait_hook(&RecordHookedId, std::chrono::milliseconds(5));
  std::atomic<int> holder_ids[2] = {0, 0};
  std::atomic<bool> release{false};
  std::vector<std::thread> holders;
  for (int h = 0; h < 2; ++h) {
    holders.emplace_back([&, h] {
      std::shared_lock lock(mutex.background());
      holder_ids[h] = KernelThreadId();
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  std::thread gone([&] { std::shared_lock lock(mutex.background()); });  // holds and leaves
  gone.join();
  ASSERT_TRUE(Eventually([&] { return holder_ids[0] != 0 && holder_ids[1] != 0; }));
  {
    std::lock_guard lock(hooked_mutex);
    EXPECT_TRUE(hooked_ids.empty());  // no writer yet
  }
  std::thread writer([&] { std::unique_lock lock(mutex); });
  ASSERT_TRUE(Eventually([&] { return HookedCount() >= 2; }));
  release = true;
  writer.join();
  for (std::thread& holder : holders) holder.join();
  std::lock_guard lock(hooked_mutex);
  std::vector<int> expected = {holder_ids[0].load(), holder_ids[1].load()};
  std::sort(expected.begin(), expected.end());
  std::sort(hooked_ids.begin(), hooked_ids.end());
  EXPECT_EQ(hooked_ids, expected);
}

// A writer takes the lock without calling the hook when no background hold runs, or when the one
// running ends within the patience.
TEST(WriterPriorityMutexTest, AWriterThatWaitsLessThanThePatienceCallsNoHook) {
  hooked_ids.clear();
  WriterPriorityMutex mutex;
  mutex.set_background_wait_hook(&RecordHookedId, std::chrono::seconds(30));
  { std::shared_lock lock(mutex.background()); }
  { std::unique_lock lock(mutex); }
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    std::shared_lock lock(mutex.background());
    holding = true;
    while (mutex.writers_draining() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  ASSERT_TRUE(Eventually([&] { return holding.load(); }));
  { std::unique_lock lock(mutex); }  // waits for the holder, well within 30 s
  holder.join();
  EXPECT_EQ(HookedCount(), 0u);
}

TEST(WriterPriorityMutexTest, BackgroundReadersWaitingForAWriterGetTheirTurnAfterIt) {
  WriterPriorityMutex mutex;
  mutex.lock();
  std::atomic<int> background_done{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::shared_lock lock(mutex.background());
      background_done.fetch_add(1);
    });
  }
  EXPECT_EQ(background_done.load(), 0);
  mutex.unlock();
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(background_done.load(), 3);
}

TEST(WriterPriorityMutexTest, MixedHoldsNeverOverlapAWriter) {
  WriterPriorityMutex mutex;
  std::atomic<int> readers_in{0};
  std::atomic<int> writers_in{0};
  std::atomic<bool> overlap{false};
  int guarded = 0;  // written only under the exclusive hold, read under shared ones
  std::atomic<int64_t> sum{0};
  auto read = [&] {
    readers_in.fetch_add(1);
    if (writers_in.load() != 0) overlap = true;
    sum.fetch_add(guarded);
    readers_in.fetch_sub(1);
  };
  std::vector<std::thread> threads;
  constexpr int kRounds = 2000;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::unique_lock lock(mutex);
        if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0) overlap = true;
        ++guarded;
        writers_in.fetch_sub(1);
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::shared_lock lock(mutex);
        read();
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::shared_lock lock(mutex.background());
        read();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(guarded, 2 * kRounds);
  EXPECT_EQ(mutex.writers_draining(), 0u);
}

}  // namespace
}  // namespace adanns
