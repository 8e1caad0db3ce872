#include "server/thread_priority.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace adanns::server {

void LowerThisThreadPriority(int nice) {
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

void NameThisThread(const char* name) {
  constexpr size_t kMaxNameChars = 15;  // the kernel's limit, without the terminating NUL
  const std::string truncated(name, std::min(std::strlen(name), kMaxNameChars));
  pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace adanns::server
