// A reader-writer lock on which a waiting writer stops new readers from entering, and on which
// background readers never make searches wait.
//
// std::shared_mutex is glibc's default rwlock, which prefers readers: while readers keep
// overlapping, a writer waits for ever. A collection's searches are such readers, and its writers
// (the applier taking committed upserts into the table, the absorber linking them into the
// indexes) take only short exclusive holds; under a steady search load they starved, and upserts
// backed up until the fresh-row cap refused them. With writer priority a writer waits only for the
// readers already running, and a search waits for at most that writer's short hold, plus the
// longest shared hold running when the writer arrived.
//
// That last term is why background readers exist. The threads that read beside the searches
// (builds, calibration, the absorber's prepare step, the recall check) run at a low priority, and
// on busy cores such a thread is preempted inside even a 0.3 ms hold for tens of milliseconds
// (measured under the mixed load: holds of 0.01-0.3 ms of CPU lasting 55-70 ms). A writer arriving
// meanwhile would register and every new search would queue behind it. So a writer first waits,
// without registering, until the background holds running have ended (holding back new ones), and
// only then asks for the lock: searches keep entering meanwhile, and a search waits only for
// other searches' holds and one writer's short hold, never for a background reader's. The price
// is paid by the writer (it waits for the preempted background hold), never by a search. A
// writer that has waited a while (the hook's patience) calls the owner's hook
// (set_background_wait_hook) with each background holder's kernel thread id: the server moves a
// holder out of the idle scheduling class there, so the writer waits for the rest of one hold at
// the holder's nice value, not for an idle core that a busy machine may not have.
//
// Not recursive: a thread holding it shared must not take it shared again (a writer arriving in
// between would deadlock both); the same holds for a background hold.
#pragma once

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "base/thread_id.h"

namespace adanns {

class WriterPriorityMutex {
 public:
  // SharedLockable view for background readers: std::shared_lock lock(mutex.background()).
  class Background {
   public:
    void lock_shared() { owner_.LockSharedBackground(); }
    bool try_lock_shared() { return owner_.TryLockSharedBackground(); }
    void unlock_shared() { owner_.UnlockSharedBackground(); }

   private:
    friend class WriterPriorityMutex;
    explicit Background(WriterPriorityMutex& owner) : owner_(owner) {}
    WriterPriorityMutex& owner_;
  };

  WriterPriorityMutex() : background_(*this) {
    pthread_rwlockattr_t attributes;
    pthread_rwlockattr_init(&attributes);
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    const int error = pthread_rwlock_init(&lock_, &attributes);
    pthread_rwlockattr_destroy(&attributes);
    if (error != 0) throw std::system_error(error, std::generic_category(), "pthread_rwlock_init");
  }
  ~WriterPriorityMutex() { pthread_rwlock_destroy(&lock_); }
  WriterPriorityMutex(const WriterPriorityMutex&) = delete;
  WriterPriorityMutex& operator=(const WriterPriorityMutex&) = delete;

  // Lockable and SharedLockable, for std::unique_lock and std::shared_lock (searches' holds).
  void lock() {
    {
      std::unique_lock guard(background_mutex_);
      ++writers_draining_;
      const auto drained = [this] { return background_readers_ == 0; };
      if (background_wait_hook_ && !background_drained_.wait_for(guard, hook_patience_, drained)) {
        for (const int thread_id : background_thread_ids_) background_wait_hook_(thread_id);
      }
      background_drained_.wait(guard, drained);
    }
    const int error = pthread_rwlock_wrlock(&lock_);
    // Background readers waiting get in line now (behind this writer): each writer lets them in
    // once, so a steady stream of writers cannot starve them.
    EndDraining();
    Check(error, "pthread_rwlock_wrlock");
  }
  bool try_lock() {
    std::lock_guard guard(background_mutex_);
    return background_readers_ == 0 && pthread_rwlock_trywrlock(&lock_) == 0;
  }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { Check(pthread_rwlock_rdlock(&lock_), "pthread_rwlock_rdlock"); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

  Background& background() { return background_; }

  // Called with a background holder's kernel thread id when a writer has waited `patience` for
  // its hold to end (under this mutex's internal lock: it must be short and must not touch this
  // mutex). Set before the mutex is shared.
  using BackgroundWaitHook = std::function<void(int thread_id)>;
  void set_background_wait_hook(BackgroundWaitHook hook, std::chrono::microseconds patience) {
    background_wait_hook_ = std::move(hook);
    hook_patience_ = patience;
  }

  // Writers waiting for background holds to end (for tests and diagnostics).
  size_t writers_draining() const {
    std::lock_guard guard(background_mutex_);
    return writers_draining_;
  }

 private:
  void LockSharedBackground() {
    {
      std::unique_lock guard(background_mutex_);
      background_admitted_.wait(guard, [this] { return writers_draining_ == 0; });
      EnterBackgroundLocked();
    }
    if (const int error = pthread_rwlock_rdlock(&lock_); error != 0) {
      LeaveBackground();
      Check(error, "pthread_rwlock_rdlock");
    }
  }
  bool TryLockSharedBackground() {
    std::lock_guard guard(background_mutex_);
    if (writers_draining_ != 0 || pthread_rwlock_tryrdlock(&lock_) != 0) return false;
    EnterBackgroundLocked();
    return true;
  }
  void UnlockSharedBackground() {
    pthread_rwlock_unlock(&lock_);
    LeaveBackground();
  }
  void EnterBackgroundLocked() {
    ++background_readers_;
    background_thread_ids_.push_back(ThisThreadId());
  }
  void LeaveBackground() {
    bool drained;
    {
      std::lock_guard guard(background_mutex_);
      drained = --background_readers_ == 0;
      // One entry of this thread's (a background hold is not recursive: there is one).
      const auto it =
          std::find(background_thread_ids_.begin(), background_thread_ids_.end(), ThisThreadId());
      if (it != background_thread_ids_.end()) {
        *it = background_thread_ids_.back();
        background_thread_ids_.pop_back();
      }
    }
    if (drained) background_drained_.notify_all();
  }
  void EndDraining() {
    {
      std::lock_guard guard(background_mutex_);
      --writers_draining_;
    }
    background_admitted_.notify_all();
  }

  // Errors here are bugs (EDEADLK: this thread holds it already), never load.
  static void Check(int error, const char* what) {
    if (error != 0) throw std::system_error(error, std::generic_category(), what);
  }

  pthread_rwlock_t lock_;
  mutable std::mutex background_mutex_;  // guards the two counts and the thread ids
  std::condition_variable background_drained_;
  std::condition_variable background_admitted_;
  size_t background_readers_ = 0;  // holding the lock, or waiting for it, as background readers
  size_t writers_draining_ = 0;    // waiting for background_readers_ to reach 0, or for the lock
  std::vector<int> background_thread_ids_;  // of the background_readers_
  BackgroundWaitHook background_wait_hook_;
  std::chrono::microseconds hook_patience_{0};
  Background background_;
};

}  // namespace adanns
