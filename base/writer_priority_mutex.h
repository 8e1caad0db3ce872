// A reader-writer lock on which a waiting writer stops new readers from entering.
//
// std::shared_mutex is glibc's default rwlock, which prefers readers: while readers keep
// overlapping, a writer waits for ever. A collection's searches are such readers, and its writers
// (the applier taking committed upserts into the table, the absorber linking them into the
// indexes) take only short exclusive holds; under a steady search load they starved, and upserts
// backed up until the fresh-row cap refused them. With writer priority a writer waits only for the
// searches already running, and a search waits for at most that writer's short hold, plus the
// longest shared hold running when the writer arrived: so no reader may hold it long (calibration
// and index builds read in steps of a few milliseconds).
// Not recursive: a thread holding it shared must not take it shared again (a writer arriving in
// between would deadlock both).
#pragma once

#include <pthread.h>

#include <cerrno>
#include <system_error>

namespace adanns {

class WriterPriorityMutex {
 public:
  WriterPriorityMutex() {
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

  // Lockable and SharedLockable, for std::unique_lock and std::shared_lock.
  void lock() { Check(pthread_rwlock_wrlock(&lock_), "pthread_rwlock_wrlock"); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { Check(pthread_rwlock_rdlock(&lock_), "pthread_rwlock_rdlock"); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  // Errors here are bugs (EDEADLK: this thread holds it already), never load.
  static void Check(int error, const char* what) {
    if (error != 0) throw std::system_error(error, std::generic_category(), what);
  }

  pthread_rwlock_t lock_;
};

}  // namespace adanns
