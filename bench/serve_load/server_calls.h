// Calls the load and scale benchmarks make against a running server: the loopback check and the
// wait for a server-side index build.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "client/client.h"

namespace adanns::bench {

// OK when `target` is HOST:PORT with HOST 127.0.0.1, localhost or ::1 ([::1]); else
// INVALID_ARGUMENT.
absl::Status CheckLoopbackTarget(const std::string& target);

struct IndexBuildWait {
  double ready_seconds = 0;    // from the call until the index showed "ready"
  double settled_seconds = 0;  // until the calibration the build starts had also finished
  std::string calibration_state;
};

// Polls DescribeCollection until index `name` of `collection` is ready and the calibration a
// finished build starts (unless the server runs with --auto_calibrate=false) is over, so nothing
// measured afterwards competes with it for the cores. INTERNAL when the build fails,
// DEADLINE_EXCEEDED after `max_wait`.
absl::StatusOr<IndexBuildWait> AwaitIndexBuild(client::Client& client,
                                               const std::string& collection,
                                               const std::string& name,
                                               std::chrono::seconds max_wait);

}  // namespace adanns::bench
