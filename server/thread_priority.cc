#include "server/thread_priority.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace adanns::server {
namespace {

// Moves the calling thread between the idle and the normal class (its nice value is kept).
bool SetThreadPolicy(pid_t tid, int policy) {
  const sched_param param{};
  return sched_setscheduler(tid, policy, &param) == 0;  // Linux: a thread id (0: the caller)
}

bool SetThisThreadPolicy(int policy) { return SetThreadPolicy(0, policy); }

}  // namespace

void LowerThisThreadPriority(int nice) {
  setpriority(PRIO_PROCESS, static_cast<id_t>(ThisThreadId()), nice);
}

void MoveThreadOutOfIdleClass(int tid) {
  if (tid > 0 && sched_getscheduler(tid) == SCHED_IDLE) SetThreadPolicy(tid, SCHED_OTHER);
}

bool IdleClassIsReversible(int nice) {
  static std::mutex mutex;
  static std::map<int, bool> reversible;  // by nice value
  std::lock_guard lock(mutex);
  if (const auto it = reversible.find(nice); it != reversible.end()) return it->second;
  // A thread of its own: one that failed to leave the idle class ends there.
  bool back = false;
  std::thread probe([nice, &back] {
    LowerThisThreadPriority(nice);
    back = SetThisThreadPolicy(SCHED_IDLE) && SetThisThreadPolicy(SCHED_OTHER);
  });
  probe.join();
  reversible.emplace(nice, back);
  return back;
}

IdleClassScope::IdleClassScope(int nice)
    : idle_(IdleClassIsReversible(nice) && SetThisThreadPolicy(SCHED_IDLE)) {}

void IdleClassScope::Reenter() {
  if (idle_) SetThisThreadPolicy(SCHED_IDLE);
}

IdleClassScope::~IdleClassScope() {
  if (idle_) SetThisThreadPolicy(SCHED_OTHER);
}

void NameThisThread(const char* name) {
  constexpr size_t kMaxNameChars = 15;  // the kernel's limit, without the terminating NUL
  const std::string truncated(name, std::min(std::strlen(name), kMaxNameChars));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace adanns::server
