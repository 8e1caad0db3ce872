#include "client/progress.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::client {
namespace {

using ::testing::HasSubstr;

// Options with a clock the test advances by hand.
ProgressOptions FakeClockOptions(double& now, bool interactive) {
  ProgressOptions options;
  options.interactive = interactive;
  options.verb = "ingested";
  options.now_seconds = [&now] { return now; };
  return options;
}

TEST(ProgressTest, PlainModePrintsEveryTenthOrTwoSeconds) {
  double now = 100;
  std::ostringstream out;
  ProgressReporter progress(1000, out, FakeClockOptions(now, /*interactive=*/false));
  now = 100.5;
  progress.Update(50);  // neither 2 s nor a new tenth: silent
  now = 101;
  progress.Update(100);  // first tenth
  now = 101.5;
  progress.Update(150);  // silent
  now = 103.5;
  progress.Update(190);  // 2 s since the last line
  now = 104;
  progress.Update(1000);
  progress.Finish(1000);
  EXPECT_EQ(out.str(),
            "100/1000 vectors (10.0%), 100 vectors/s, ETA 9s\n"
            "190/1000 vectors (19.0%), 54.3 vectors/s, ETA 15s\n"
            "1000/1000 vectors (100.0%), 250 vectors/s, ETA 0s\n"
            "ingested 1000 vectors in 4.00 s (250 vectors/s)\n");
}

TEST(ProgressTest, InteractiveModeRedrawsOneLine) {
  double now = 0;
  std::ostringstream out;
  ProgressReporter progress(200, out, FakeClockOptions(now, /*interactive=*/true));
  now = 1;
  progress.Update(100);
  now = 1.05;
  progress.Update(110);  // under 0.1 s since the last redraw: skipped
  now = 2;
  progress.Update(200);
  progress.Finish(200);
  EXPECT_EQ(out.str(),
            "\r[###############...............] 100/200 vectors (50.0%), 100 vectors/s, ETA 1s"
            "\r[##############################] 200/200 vectors (100.0%), 100 vectors/s, ETA 0s"
            "\ningested 200 vectors in 2.00 s (100 vectors/s)\n");
}

TEST(ProgressTest, UnknownTotalShowsCountAndRate) {
  double now = 0;
  std::ostringstream out;
  ProgressReporter progress(0, out, FakeClockOptions(now, /*interactive=*/false));
  EXPECT_EQ(progress.StatusText(30, 4), "30 vectors, 7.5 vectors/s");
}

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(FormatDuration(7.4), "7s");
  EXPECT_EQ(FormatDuration(125), "2m05s");
  EXPECT_EQ(FormatDuration(3723), "1h02m03s");
  EXPECT_EQ(FormatDuration(-3), "0s");
}

}  // namespace
}  // namespace adanns::client
