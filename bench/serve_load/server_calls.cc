#include "bench/serve_load/server_calls.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::bench {
namespace {

using Clock = std::chrono::steady_clock;
// Seconds after an index is ready within which the calibration it starts shows as running.
constexpr double kCalibrationStartGrace = 3;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Splits "host:port" or "[v6]:port"; the host, with the port in `port` (empty when missing).
std::string HostOf(const std::string& target, std::string* port) {
  if (!target.empty() && target.front() == '[') {
    const size_t close = target.find(']');
    if (close == std::string::npos) return "";
    if (close + 1 < target.size() && target[close + 1] == ':') *port = target.substr(close + 2);
    return target.substr(1, close - 1);
  }
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return target;
  *port = target.substr(colon + 1);
  return target.substr(0, colon);
}

}  // namespace

absl::Status CheckLoopbackTarget(const std::string& target) {
  std::string port;
  const std::string host = target == "::1" ? target : HostOf(target, &port);
  const bool loopback = host == "127.0.0.1" || host == "localhost" || host == "::1";
  const bool port_ok =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      std::stoi(port) >= 1 && std::stoi(port) <= 65535;
  if (!loopback || !port_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server must be a loopback HOST:PORT (127.0.0.1, localhost or [::1] with "
                     "a port 1..65535), got '",
                     target, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<IndexBuildWait> AwaitIndexBuild(client::Client& client,
                                               const std::string& collection,
                                               const std::string& name,
                                               std::chrono::seconds max_wait) {
  v1::DescribeCollectionRequest describe;
  describe.set_name(collection);
  const auto start = Clock::now();
  IndexBuildWait wait;
  bool ready = false;
  bool calibration_seen = false;
  while (Clock::now() - start < max_wait) {
    ASSIGN_OR_RETURN(const v1::CollectionInfo info, client.DescribeCollection(describe));
    for (const v1::IndexInfo& index : info.indexes()) {
      if (index.name() != name) continue;
      if (index.state() == "failed") {
        return absl::InternalError(absl::StrCat(name, " build failed: ", index.error()));
      }
      if (index.state() == "ready" && !ready) {
        ready = true;
        wait.ready_seconds = Seconds(Clock::now() - start);
        std::fprintf(stderr, "%s index ready after %.2f s\n", name.c_str(), wait.ready_seconds);
      }
    }
    const bool calibrating = info.calibration().state() == "calibrating";
    calibration_seen = calibration_seen || calibrating;
    if (ready && !calibrating &&
        (calibration_seen ||
         Seconds(Clock::now() - start) > wait.ready_seconds + kCalibrationStartGrace)) {
      wait.settled_seconds = Seconds(Clock::now() - start);
      wait.calibration_state = info.calibration().state();
      std::fprintf(stderr, "calibration %s after %.2f s\n", wait.calibration_state.c_str(),
                   wait.settled_seconds);
      return wait;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return absl::DeadlineExceededError(
      absl::StrCat(name, " build did not finish in ", max_wait.count(), " s"));
}

}  // namespace adanns::bench
