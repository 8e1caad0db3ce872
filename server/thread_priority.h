// Our own threads' names and priorities, so that top, perf and gdb show which is which (a thread
// otherwise inherits the name of whatever thread created it, e.g. a gRPC callback thread).
#pragma once

#include "base/thread_id.h"  // ThisThreadId, for MoveThreadOutOfIdleClass

namespace adanns::server {

// Raises the calling thread's nice value to `nice` (Linux schedules threads by their own nice
// value). An unprivileged thread cannot lower it again, so call it once, at the thread's start.
// Failure is ignored: the thread then runs at the process's priority.
void LowerThisThreadPriority(int nice);

// Whether a thread of this process at nice `nice` may leave the idle class (SCHED_IDLE) again once
// in it: root, CAP_SYS_NICE, or an RLIMIT_NICE that allows `nice`. Found once per nice value by
// trying on a short-lived thread, so that no caller is ever stuck in the idle class.
bool IdleClassIsReversible(int nice);

// Puts the calling thread in the idle class for its lifetime, then back in the normal class at its
// nice value: for work that may wait for an idle core, split from short holds that must not (an
// idle-class thread preempted inside a lock waits for an idle core, and every waiter with it).
// Does nothing where the switch back is not allowed (IdleClassIsReversible(nice) is false).
class IdleClassScope {
 public:
  explicit IdleClassScope(int nice);
  ~IdleClassScope();
  IdleClassScope(const IdleClassScope&) = delete;
  IdleClassScope& operator=(const IdleClassScope&) = delete;

  bool idle() const { return idle_; }
  // Back into the idle class, for a thread that another moved out (MoveThreadOutOfIdleClass).
  void Reenter();

 private:
  bool idle_ = false;
};

// Moves thread `tid` of this process from the idle class back to the normal class (at its nice
// value); does nothing if it is not in the idle class. For a thread that holds what the caller
// waits for: an idle-class holder may get no core while the machine is busy.
void MoveThreadOutOfIdleClass(int tid);

// Names the calling thread (Linux keeps the first 15 characters). Failure is ignored.
void NameThisThread(const char* name);

}  // namespace adanns::server
