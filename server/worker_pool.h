// A fixed set of worker threads shared by every call that hands it work: SearchBatch splits its
// queries over it, so concurrent batches queue for the same cores instead of each starting its
// own threads and oversubscribing them; streaming upserts run their messages on another one, off
// gRPC's callback threads (which must not block on a synced write).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace adanns::server {

class WorkerPool {
 public:
  // `threads` >= 1 workers named `name` (see NameThisThread), started now, each at nice value
  // `nice` (0 = the process's).
  WorkerPool(const char* name, size_t threads, int nice = 0);
  // Runs every task already posted, then joins the workers.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Queues `task`; a worker runs it (tasks posted from one thread start in order).
  void Post(std::function<void()> task);

  // Splits [0, n) into at most size() contiguous ranges, runs body(begin, end) for each on the
  // workers and returns when all have returned. The caller only waits, so however many callers
  // share the pool, at most size() bodies run at once. `body` must not call ParallelFor on the
  // same pool (its ranges could wait behind themselves).
  void ParallelFor(size_t n, const std::function<void(size_t begin, size_t end)>& body);

  // Test hook: the most tasks that ever ran at the same time.
  size_t max_running() const;

 private:
  void Work(const std::string& name, int nice);

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  size_t running_ = 0;                       // guarded by mutex_
  size_t max_running_ = 0;                   // guarded by mutex_
  std::vector<std::thread> workers_;
};

}  // namespace adanns::server
