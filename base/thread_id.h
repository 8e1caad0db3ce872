// The calling thread's kernel id (Linux): what sched_setscheduler and setpriority take to act on
// one thread of the process. Read once per thread.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

namespace adanns {

inline int ThisThreadId() {
  thread_local const int id = static_cast<int>(syscall(SYS_gettid));
  return id;
}

}  // namespace adanns
