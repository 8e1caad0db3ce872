// Progress of long client operations (ingest): a single redrawn bar on a terminal, plain periodic
// lines otherwise (logs, CI), and a final summary line with count, seconds and rate.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace adanns::client {

struct ProgressOptions {
  // What is being counted, in the plural.
  // Default: "vectors".
  std::string unit = "vectors";
  // Past tense used by the summary line ("ingested 1000 vectors in ...").
  // Default: "done:".
  std::string verb = "done:";
  // Redraw one line with '\r' (for a terminal) instead of printing plain lines.
  // Default: whether stderr is a terminal.
  bool interactive = StderrIsTerminal();
  // Plain mode prints a line when this many seconds passed or another 10% is done.
  // Default: 2.
  double plain_interval_seconds = 2.0;
  // Monotonic clock in seconds; replaceable for tests.
  // Default: std::chrono::steady_clock.
  std::function<double()> now_seconds = SteadySeconds;

  static bool StderrIsTerminal();
  static double SteadySeconds();
};

// Not thread-safe: call Update() from the thread doing the work.
class ProgressReporter {
 public:
  // `total` may be 0 when unknown: then no percentage or ETA is shown.
  ProgressReporter(uint64_t total, std::ostream& out, ProgressOptions options = {});

  // Reports `done` units so far; prints only when the display is due (at most 10 redraws/s).
  void Update(uint64_t done);
  // Ends the bar's line, if one was drawn, so that later output (an error) starts on its own.
  void EndLine();
  // Ends the bar's line and prints the summary ("ingested 1000 vectors in 2.31 s (433 vectors/s)").
  void Finish(uint64_t done);

  // The status text for `done` units after `elapsed` seconds, e.g.
  // "1000/10000 vectors (10.0%), 433 vectors/s, ETA 21s"; exposed for tests.
  std::string StatusText(uint64_t done, double elapsed) const;

 private:
  std::string Bar(uint64_t done) const;

  uint64_t total_;
  std::ostream& out_;
  ProgressOptions options_;
  double start_seconds_;
  double last_print_seconds_;
  uint64_t last_printed_tenth_ = 0;
  size_t last_line_length_ = 0;
  bool drew_bar_ = false;
};

// "7s", "2m05s", "1h02m03s".
std::string FormatDuration(double seconds);

}  // namespace adanns::client
