#include "bench/harness/runner.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

using ::testing::HasSubstr;

// Answers query i (whose first value is i) with ground-truth row i, then rows beyond the truth;
// `miss_every` > 0 replaces the best hit of every such query with padding.
class EchoIndex : public BuiltIndex {
 public:
  absl::Status SetSearchParams(const Params& search) override {
    miss_every_ = search.count("miss_every") ? static_cast<int>(search.at("miss_every")) : 0;
    return search.count("bad") ? absl::InvalidArgumentError("bad parameter") : absl::OkStatus();
  }
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    const auto i = static_cast<int64_t>(query[0]);
    std::fill(ids, ids + k, -1);
    ids[0] = (miss_every_ > 0 && i % miss_every_ == 0) ? -1 : i;
    work->flops = 2e6;
    work->vectors_scanned = 7;
    calls_.fetch_add(1);
  }
  int calls() const { return calls_.load(); }

 private:
  int miss_every_ = 0;
  mutable std::atomic<int> calls_{0};
};

class EchoMethod : public Method {
 public:
  std::string name() const override { return "echo"; }
  Grid DefaultGrid(const BenchData&) const override {
    return {{Params{{"size", 1}}}, {Params{}, Params{{"miss_every", 2}}, Params{{"bad", 1}}}};
  }
  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData&, const Params&, int,
                                                    BuildStats* stats) const override {
    stats->train_s = 0.25;
    stats->bytes_per_vector = {{"codes", 8}, {"ids", 4}};
    return std::make_unique<EchoIndex>();
  }
};

// 10 queries, query i = (i, 0), truth row i = {i}; k = 1.
BenchData EchoData() {
  BenchData data;
  data.name = "echo";
  data.base = ZeroMatrix<float>(10, 2);
  data.queries = ZeroMatrix<float>(10, 2);
  data.groundtruth = ZeroMatrix<int32_t>(10, 1);
  for (int i = 0; i < 10; ++i) {
    data.queries.values[2 * i] = static_cast<float>(i);
    data.groundtruth.values[i] = i;
  }
  return data;
}

// k = 1, no warm-up unless a test asks for one.
RunOptions EchoOptions() {
  RunOptions options;
  options.k = 1;
  options.warmup_queries = 0;
  return options;
}

class MeasurePointTest : public ::testing::Test {
 protected:
  MeasurePointTest() { index_.set_query_dim(2); }

  const BenchData data_ = EchoData();
  EchoIndex index_;
};

TEST_F(MeasurePointTest, SingleQueriesScoreRecallAndWork) {
  ASSERT_TRUE(index_.SetSearchParams({{"miss_every", 5}}).ok());
  RunOptions options = EchoOptions();
  options.warmup_queries = 3;
  const PointMeasurement m = MeasurePoint(index_, data_, options);
  EXPECT_EQ(m.queries, 10u);
  EXPECT_DOUBLE_EQ(m.recall, 0.8);  // queries 0 and 5 miss
  EXPECT_DOUBLE_EQ(m.mflops_per_query, 2);
  EXPECT_DOUBLE_EQ(m.vectors_scanned_per_query, 7);
  EXPECT_GT(m.qps, 0);
  EXPECT_LE(m.p50_us, m.p99_us);
  EXPECT_EQ(index_.calls(), 13);  // warm-up included
}

TEST_F(MeasurePointTest, TheTimeCapStopsAfterTheFirstWholeQuery) {
  RunOptions options = EchoOptions();
  options.max_seconds_per_point = 1e-12;
  const PointMeasurement m = MeasurePoint(index_, data_, options);
  EXPECT_EQ(m.queries, 1u);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
}

TEST_F(MeasurePointTest, BatchModeSplitsOverThreads) {
  RunOptions options = EchoOptions();
  options.batch = 4;
  options.threads = 3;
  const PointMeasurement m = MeasurePoint(index_, data_, options);
  EXPECT_EQ(m.queries, 10u);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_EQ(index_.calls(), 10);
}

TEST_F(MeasurePointTest, QueryThreadsCoverEveryQueryOnceInDisjointSlices) {
  ASSERT_TRUE(index_.SetSearchParams({{"miss_every", 5}}).ok());
  RunOptions options = EchoOptions();
  options.query_threads = 3;
  const PointMeasurement m = MeasurePoint(index_, data_, options);
  EXPECT_EQ(m.queries, 10u);
  EXPECT_DOUBLE_EQ(m.recall, 0.8);  // the same queries 0 and 5 miss, whichever thread ran them
  EXPECT_EQ(index_.calls(), 10);
  EXPECT_GT(m.qps, 0);
}

TEST_F(MeasurePointTest, QueryThreadsStopEachSliceAtTheTimeCap) {
  RunOptions options = EchoOptions();
  options.query_threads = 4;
  options.max_seconds_per_point = 1e-12;
  const PointMeasurement m = MeasurePoint(index_, data_, options);
  EXPECT_EQ(m.queries, 4u);  // the first query of each slice
  EXPECT_EQ(index_.calls(), 4);
}

TEST(RunMethodsTest, SweepsTheGridAndRecordsFailures) {
  const BenchData data = EchoData();
  EchoMethod method;
  RunOptions options;
  options.k = 1;
  const RunResult result =
      RunMethods(data, {{&method, method.DefaultGrid(data)}}, options, nullptr);
  ASSERT_EQ(result.points.size(), 2u);
  EXPECT_EQ(result.points[0].method, "echo");
  EXPECT_EQ(result.points[0].params, (Params{{"size", 1}}));
  EXPECT_DOUBLE_EQ(result.points[0].recall, 1.0);
  EXPECT_EQ(result.points[1].params, (Params{{"miss_every", 2}, {"size", 1}}));
  EXPECT_DOUBLE_EQ(result.points[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(result.points[1].build.train_s, 0.25);
  EXPECT_DOUBLE_EQ(result.points[1].build.bytes_per_vector.at("total"), 12);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0], HasSubstr("echo bad=1 size=1: INVALID_ARGUMENT: bad parameter"));
}

// Records which (method, point) each measured query belonged to, in order.
class OrderIndex : public EchoIndex {
 public:
  OrderIndex(std::string method, std::vector<std::string>* order)
      : method_(std::move(method)), order_(order) {}
  absl::Status SetSearchParams(const Params& search) override {
    point_ = search.count("p") ? static_cast<int>(search.at("p")) : 0;
    order_->push_back(method_ + std::to_string(point_));
    return absl::OkStatus();
  }

 private:
  std::string method_;
  std::vector<std::string>* order_;
  int point_ = 0;
};

class OrderMethod : public Method {
 public:
  OrderMethod(std::string name, std::vector<std::string>* order)
      : name_(std::move(name)), order_(order) {}
  std::string name() const override { return name_; }
  Grid DefaultGrid(const BenchData&) const override {
    return {{Params{}}, {Params{{"p", 1}}, Params{{"p", 2}}}};
  }
  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData&, const Params&, int,
                                                    BuildStats*) const override {
    order_->push_back("build " + name_);
    return std::make_unique<OrderIndex>(name_, order_);
  }

 private:
  std::string name_;
  std::vector<std::string>* order_;
};

TEST(RunMethodsTest, RepeatsInterleaveAcrossMethodsAndReportTheMedian) {
  const BenchData data = EchoData();
  std::vector<std::string> order;
  OrderMethod a("a", &order), b("b", &order);
  RunOptions options = EchoOptions();
  options.repeat = 3;
  const RunResult result =
      RunMethods(data, {{&a, a.DefaultGrid(data)}, {&b, b.DefaultGrid(data)}}, options, nullptr);
  const std::vector<std::string> round = {"a1", "b1", "a2", "b2"};
  std::vector<std::string> expected = {"build a", "build b"};
  for (int r = 0; r < 3; ++r) expected.insert(expected.end(), round.begin(), round.end());
  EXPECT_EQ(order, expected);
  ASSERT_EQ(result.points.size(), 4u);  // one point per (method, params), not per run
  for (const PointResult& point : result.points) {
    EXPECT_EQ(point.repeats, 3);
    EXPECT_LE(point.qps_min, point.qps);
    EXPECT_LE(point.qps, point.qps_max);
    EXPECT_DOUBLE_EQ(point.recall, 1.0);
  }
  EXPECT_EQ(result.points[0].method, "a");
  EXPECT_EQ(result.points[2].method, "b");
}

TEST(RunMethodsTest, OneMethodAtATimeBuildsMeasuresAndMovesOn) {
  const BenchData data = EchoData();
  std::vector<std::string> order;
  OrderMethod a("a", &order), b("b", &order);
  RunOptions options = EchoOptions();
  options.repeat = 2;
  options.interleave_methods = false;
  RunMethods(data, {{&a, a.DefaultGrid(data)}, {&b, b.DefaultGrid(data)}}, options, nullptr);
  EXPECT_EQ(order, (std::vector<std::string>{"build a", "a1", "a2", "a1", "a2", "build b", "b1",
                                             "b2", "b1", "b2"}));
}

// Point "x" runs plan "plan<x / 2>" (x = 0 and 1 share one); `budget` makes every point a
// budget. Counts the queries each plan ran.
class PlannedIndex : public EchoIndex {
 public:
  PlannedIndex(bool budget, std::map<std::string, int>* queries_per_plan)
      : budget_(budget), queries_per_plan_(queries_per_plan) {}
  absl::Status SetSearchParams(const Params& search) override {
    plan_ = "plan" + std::to_string(static_cast<int>(search.at("x")) / 2);
    return absl::OkStatus();
  }
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    EchoIndex::Search(query, k, ids, work);
    ++(*queries_per_plan_)[plan_];
  }
  std::string PointPlan(uint32_t /*k*/) const override { return plan_; }
  bool PointIsBudget() const override { return budget_; }

 private:
  bool budget_;
  std::map<std::string, int>* queries_per_plan_;
  std::string plan_;
};

class PlannedMethod : public Method {
 public:
  PlannedMethod(bool budget, std::map<std::string, int>* queries_per_plan)
      : budget_(budget), queries_per_plan_(queries_per_plan) {}
  std::string name() const override { return budget_ ? "budget" : "explicit"; }
  Grid DefaultGrid(const BenchData&) const override {
    return {{Params{}}, {Params{{"x", 0}}, Params{{"x", 1}}, Params{{"x", 2}}}};
  }
  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData&, const Params&, int,
                                                    BuildStats*) const override {
    return std::make_unique<PlannedIndex>(budget_, queries_per_plan_);
  }

 private:
  bool budget_;
  std::map<std::string, int>* queries_per_plan_;
};

TEST(RunMethodsTest, PointsOfOneBuildWithTheSamePlanAreMeasuredOnce) {
  const BenchData data = EchoData();
  std::map<std::string, int> queries_per_plan;
  PlannedMethod method(/*budget=*/false, &queries_per_plan);
  RunOptions options = EchoOptions();
  options.repeat = 3;
  const RunResult result =
      RunMethods(data, {{&method, method.DefaultGrid(data)}}, options, nullptr);
  // x = 0 and x = 1 run plan0: measured 3 times (10 queries each), one point listing x = 1.
  EXPECT_EQ(queries_per_plan["plan0"], 30);
  EXPECT_EQ(queries_per_plan["plan1"], 30);
  ASSERT_EQ(result.points.size(), 2u);
  EXPECT_EQ(result.points[0].params, (Params{{"x", 0}}));
  EXPECT_EQ(result.points[0].plan, "plan0");
  EXPECT_EQ(result.points[0].same_plan, (std::vector<Params>{{{"x", 1}}}));
  EXPECT_EQ(result.points[0].repeats, 3);
  EXPECT_EQ(result.points[1].plan, "plan1");
  EXPECT_TRUE(result.points[1].same_plan.empty());
}

TEST(RunMethodsTest, BudgetsThatGetTheSamePlanKeepARowEachWithOneMeasurement) {
  const BenchData data = EchoData();
  std::map<std::string, int> queries_per_plan;
  PlannedMethod method(/*budget=*/true, &queries_per_plan);
  RunOptions options = EchoOptions();
  options.repeat = 3;
  const RunResult result =
      RunMethods(data, {{&method, method.DefaultGrid(data)}}, options, nullptr);
  EXPECT_EQ(queries_per_plan["plan0"], 30);
  ASSERT_EQ(result.points.size(), 3u);  // one row per requested budget
  EXPECT_EQ(result.points[1].params, (Params{{"x", 1}}));
  EXPECT_EQ(result.points[1].plan, "plan0");
  EXPECT_DOUBLE_EQ(result.points[1].qps, result.points[0].qps);  // the same measurements
  EXPECT_DOUBLE_EQ(result.points[1].qps_max, result.points[0].qps_max);
  EXPECT_EQ(result.points[1].repeats, 3);
  EXPECT_EQ(result.points[2].plan, "plan1");
}

TEST(MedianOfTest, MediansAndSpread) {
  std::vector<PointMeasurement> runs(3);
  const double qps[] = {300, 100, 200};
  const double p50[] = {5, 9, 7};
  for (size_t i = 0; i < 3; ++i) {
    runs[i].qps = qps[i];
    runs[i].p50_us = p50[i];
    runs[i].recall = 0.9;
    runs[i].queries = 100 - i;
  }
  const PointMeasurement m = MedianOf(runs);
  EXPECT_DOUBLE_EQ(m.qps, 200);
  EXPECT_DOUBLE_EQ(m.qps_min, 100);
  EXPECT_DOUBLE_EQ(m.qps_max, 300);
  EXPECT_DOUBLE_EQ(m.p50_us, 7);
  EXPECT_DOUBLE_EQ(m.p50_us_min, 5);
  EXPECT_DOUBLE_EQ(m.p50_us_max, 9);
  EXPECT_DOUBLE_EQ(m.recall, 0.9);
  EXPECT_EQ(m.queries, 98u);
  EXPECT_EQ(m.repeats, 3);
  runs.pop_back();  // an even count: the mean of the two middle values
  EXPECT_DOUBLE_EQ(MedianOf(runs).qps, 200);
}

}  // namespace
}  // namespace adanns::bench
