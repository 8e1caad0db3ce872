// Our own threads' names and priorities, so that top, perf and gdb show which is which (a thread
// otherwise inherits the name of whatever thread created it, e.g. a gRPC callback thread).
#pragma once

namespace adanns::server {

// Raises the calling thread's nice value to `nice` (Linux schedules threads by their own nice
// value). An unprivileged thread cannot lower it again, so call it once, at the thread's start.
// Failure is ignored: the thread then runs at the process's priority.
void LowerThisThreadPriority(int nice);

// Names the calling thread (Linux keeps the first 15 characters). Failure is ignored.
void NameThisThread(const char* name);

}  // namespace adanns::server
