#include "server/worker_pool.h"

#include <algorithm>
#include <latch>

#include "server/thread_priority.h"

namespace adanns::server {

WorkerPool::WorkerPool(const char* name, size_t threads, int nice) {
  workers_.reserve(std::max<size_t>(threads, 1));
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i)
    workers_.emplace_back(
        [this, thread_name = std::string(name), nice] { Work(thread_name, nice); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void WorkerPool::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
}

void WorkerPool::ParallelFor(size_t n, const std::function<void(size_t begin, size_t end)>& body) {
  if (n == 0) return;
  const size_t parts = std::min(n, size());
  std::latch done(static_cast<std::ptrdiff_t>(parts));
  for (size_t part = 0; part < parts; ++part) {
    const size_t begin = n * part / parts;
    const size_t end = n * (part + 1) / parts;
    Post([&body, &done, begin, end] {
      body(begin, end);
      done.count_down();
    });
  }
  done.wait();
}

size_t WorkerPool::max_running() const {
  std::lock_guard lock(mutex_);
  return max_running_;
}

void WorkerPool::Work(const std::string& name, int nice) {
  NameThisThread(name.c_str());
  if (nice > 0) LowerThisThreadPriority(nice);
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and every posted task has run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    max_running_ = std::max(max_running_, ++running_);
    lock.unlock();
    task();
    lock.lock();
    --running_;
  }
}

}  // namespace adanns::server
