// Background threads that must yield the cores to searches.
#pragma once

namespace adanns::server {

// Raises the calling thread's nice value to `nice` (Linux schedules threads by their own nice
// value). An unprivileged thread cannot lower it again, so call it once, at the thread's start.
// Failure is ignored: the thread then runs at the process's priority.
void LowerThisThreadPriority(int nice);

}  // namespace adanns::server
