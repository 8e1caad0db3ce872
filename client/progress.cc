#include "client/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace adanns::client {
namespace {

constexpr double kRedrawIntervalSeconds = 0.1;
constexpr size_t kBarWidth = 30;

std::string FormatRate(double rate) {
  return rate >= 100 ? absl::StrFormat("%.0f", rate) : absl::StrFormat("%.1f", rate);
}

}  // namespace

bool ProgressOptions::StderrIsTerminal() { return isatty(fileno(stderr)) != 0; }

double ProgressOptions::SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string FormatDuration(double seconds) {
  const int64_t total = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  const int64_t hours = total / 3600, minutes = (total / 60) % 60, secs = total % 60;
  if (hours > 0) {
    return absl::StrFormat("%dh%02dm%02ds", hours, minutes, secs);
  }
  if (minutes > 0) {
    return absl::StrFormat("%dm%02ds", minutes, secs);
  }
  return absl::StrFormat("%ds", secs);
}

ProgressReporter::ProgressReporter(uint64_t total, std::ostream& out, ProgressOptions options)
    : total_(total), out_(out), options_(std::move(options)) {
  start_seconds_ = options_.now_seconds();
  last_print_seconds_ = start_seconds_;
}

std::string ProgressReporter::StatusText(uint64_t done, double elapsed) const {
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const std::string rate_text = absl::StrCat(FormatRate(rate), " ", options_.unit, "/s");
  if (total_ == 0) {
    return absl::StrCat(done, " ", options_.unit, ", ", rate_text);
  }
  const double percent = 100.0 * static_cast<double>(done) / static_cast<double>(total_);
  const std::string eta =
      rate > 0 ? FormatDuration(static_cast<double>(total_ - std::min(done, total_)) / rate) : "?";
  return absl::StrFormat("%d/%d %s (%.1f%%), %s, ETA %s", done, total_, options_.unit, percent,
                         rate_text, eta);
}

std::string ProgressReporter::Bar(uint64_t done) const {
  const size_t filled =
      total_ == 0 ? 0 : static_cast<size_t>(kBarWidth * std::min(done, total_) / total_);
  return absl::StrCat("[", std::string(filled, '#'), std::string(kBarWidth - filled, '.'), "]");
}

void ProgressReporter::Update(uint64_t done) {
  const double now = options_.now_seconds();
  const double elapsed = now - start_seconds_;
  if (options_.interactive) {
    if (now - last_print_seconds_ < kRedrawIntervalSeconds && done < total_) {
      return;
    }
    std::string line = absl::StrCat(Bar(done), " ", StatusText(done, elapsed));
    const size_t length = line.size();
    // Blank out the tail of a longer previous line.
    if (length < last_line_length_) {
      line.append(last_line_length_ - length, ' ');
    }
    out_ << '\r' << line << std::flush;
    last_line_length_ = length;
    drew_bar_ = true;
  } else {
    const uint64_t tenth = total_ == 0 ? 0 : 10 * std::min(done, total_) / total_;
    if (now - last_print_seconds_ < options_.plain_interval_seconds &&
        tenth <= last_printed_tenth_) {
      return;
    }
    out_ << StatusText(done, elapsed) << '\n' << std::flush;
    last_printed_tenth_ = tenth;
  }
  last_print_seconds_ = now;
}

void ProgressReporter::EndLine() {
  if (drew_bar_) {
    out_ << '\n';
  }
  drew_bar_ = false;
}

void ProgressReporter::Finish(uint64_t done) {
  const double elapsed = options_.now_seconds() - start_seconds_;
  EndLine();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  out_ << absl::StrFormat("%s %d %s in %.2f s (%s %s/s)\n", options_.verb, done, options_.unit,
                          elapsed, FormatRate(rate), options_.unit)
       << std::flush;
}

}  // namespace adanns::client
