// The shared worker pool: every range runs exactly once, concurrent callers never run more bodies
// at once than the pool has threads, and queued tasks run before the pool is destroyed.
#include "server/worker_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace adanns::server {
namespace {

TEST(WorkerPoolTest, ParallelForCoversEveryIndexOnce) {
  WorkerPool pool("test-pool", 3);
  for (const size_t n : {0, 1, 2, 3, 7, 1000}) {
    std::vector<std::atomic<int>> hits(n);
    pool.ParallelFor(n, [&](size_t begin, size_t end) {
      ASSERT_LT(begin, end);
      for (size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
    });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n " << n << " index " << i;
  }
}

TEST(WorkerPoolTest, ConcurrentCallersShareThePoolsThreads) {
  WorkerPool pool("test-pool", 2);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<uint64_t> covered{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        pool.ParallelFor(64, [&](size_t begin, size_t end) {
          const int now = running.fetch_add(1) + 1;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          for (size_t i = begin; i < end; ++i) covered.fetch_add(1);
          std::this_thread::yield();
          running.fetch_sub(1);
        });
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(covered.load(), 8u * 20u * 64u);
  EXPECT_LE(most.load(), 2);  // 8 callers, never more than the pool's 2 threads busy
  EXPECT_LE(pool.max_running(), 2u);
}

TEST(WorkerPoolTest, DestructionRunsEveryPostedTask) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool("test-pool", 1);
    for (int i = 0; i < 100; ++i) pool.Post([&ran] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace adanns::server
