#include "bench/harness/report.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "bench/harness/json_writer.h"
#include "bench/harness/plot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

PointResult Point(const std::string& method, double recall, double qps) {
  PointResult point;
  point.method = method;
  point.recall = recall;
  point.qps = qps;
  point.queries = 100;
  return point;
}

TEST(JsonWriterTest, NestsEscapesAndKeepsSingleLineContainers) {
  JsonWriter json;
  json.BeginObject();
  json.Key("name \"x\"");
  json.String("a\\b\n\t\x01");
  json.Key("list");
  json.BeginArray(/*single_line=*/true);
  json.Number(0.5);
  json.Number(kNan);
  json.Number(std::numeric_limits<double>::infinity());
  json.Integer(-3);
  json.BeginObject();
  json.EndObject();
  json.EndArray();
  json.Key("empty");
  json.BeginArray();
  json.EndArray();
  json.Key("rounded");
  json.Number(2.0 / 3.0, 3);
  json.EndObject();
  EXPECT_EQ(json.text(),
            "{\n"
            "  \"name \\\"x\\\"\": \"a\\\\b\\n\\t\\u0001\",\n"
            "  \"list\": [0.5, null, null, -3, {}],\n"
            "  \"empty\": [],\n"
            "  \"rounded\": 0.667\n"
            "}\n");
}

TEST(ReportJsonTest, HasTheSchemaKeysAndNullForMissingNumbers) {
  RunMeta meta;
  meta.dataset = "tiny \"set\"";
  meta.metric = "l2";
  meta.n = 2000;
  meta.dim = 32;
  meta.queries = 50;
  meta.cpu = "Test CPU";
  meta.cpu_flags = {"avx2", "fma"};
  meta.commit = "abc1234";
  meta.clean = true;
  meta.huge_pages = "all";
  meta.thp_mode = "madvise";
  PointResult point = Point("flat", 1.0, 123.5);
  point.params = {{"search_dims", 32}};
  point.p50_us = 8.25;
  point.p99_us = kNan;
  point.build.bytes_per_vector = {{"full_vectors", 128}, {"total", 128}};
  const std::string json = ReportJson(meta, {point});
  for (const char* key : {"\"meta\"",
                          "\"dataset\": \"tiny \\\"set\\\"\"",
                          "\"n\": 2000",
                          "\"dim\": 32",
                          "\"queries\": 50",
                          "\"k\": 10",
                          "\"cpu\": \"Test CPU\"",
                          "\"cpu_flags\": [\"avx2\", \"fma\"]",
                          "\"commit\": \"abc1234\"",
                          "\"clean\": true",
                          "\"huge_pages\": \"all\"",
                          "\"thp_mode\": \"madvise\"",
                          "\"threads\": 1",
                          "\"batch\": 1",
                          "\"device\": \"cpu\"",
                          "\"points\"",
                          "\"method\": \"flat\"",
                          "\"params\": {\"search_dims\": 32}",
                          "\"recall\": 1",
                          "\"id_recall\": 0",
                          "\"qps\": 123.5",
                          "\"p50_us\": 8.25",
                          "\"p99_us\": null",
                          "\"mflops_per_query\": 0",
                          "\"vectors_scanned_per_query\": 0",
                          "\"build_s\": 0",
                          "\"train_s\": 0",
                          "\"encode_s\": 0",
                          "\"bytes_per_vector\": {\"full_vectors\": 128, \"total\": 128}",
                          "\"queries\": 100"}) {
    EXPECT_THAT(json, HasSubstr(key));
  }
  EXPECT_THAT(json, Not(HasSubstr("nan")));
}

TEST(ReportCsvTest, OneRowPerPointWithQuotedParams) {
  PointResult point = Point("funnel", 0.5, 10);
  point.id_recall = 0.25;
  point.params = {{"rerank_candidates", 100}, {"search_dims", 16}};
  point.p99_us = kNan;
  PointResult odd = Point("a,\"b\"", 1, 2);
  odd.id_recall = 1;
  const std::string csv = ReportCsv({point, odd});
  EXPECT_THAT(csv, HasSubstr("method,params,recall,id_recall,qps,p50_us,p99_us,"));
  EXPECT_THAT(csv, HasSubstr("\nfunnel,rerank_candidates=100 search_dims=16,0.5,0.25,10,0,,"));
  EXPECT_THAT(csv, HasSubstr("\n\"a,\"\"b\"\"\",,1,1,2,"));
}

// The fields of `method`'s row in the table's "recall >= <level>" block.
std::vector<std::string> TableRow(const std::string& table, const std::string& level,
                                  const std::string& method) {
  const size_t block = table.find("recall >= " + level);
  if (block == std::string::npos) return {};
  const std::vector<std::string> lines = absl::StrSplit(table.substr(block), '\n');
  for (const std::string& line : lines) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!fields.empty() && fields[0] == method) return fields;
  }
  return {};
}

TEST(ComparisonTableTest, RatiosAgainstEveryBaselineFrontier) {
  RunMeta meta;
  meta.dataset = "set";
  const std::vector<PointResult> points = {
      Point("ours", 0.92, 400),      Point("ours", 0.96, 200),     Point("ours", 0.999, 20),
      Point("faiss-ivf", 0.90, 100), Point("faiss-ivf", 0.98, 25), Point("faiss-flat", 1.0, 10),
      Point("hnswlib", 0.5, 1000),
  };
  const std::string table = ComparisonTable(meta, points, {0.90, 0.95, 0.99});
  // Baseline columns in order of appearance: faiss-ivf, faiss-flat, hnswlib. At 0.95 faiss-ivf's
  // frontier gives 100 * (25/100)^(5/8) = 42.04; faiss-flat's only point (recall 1) stands in
  // below its frontier; hnswlib's frontier ends at 0.5.
  EXPECT_THAT(TableRow(table, "0.90", "ours"),
              ElementsAre("ours", "400.0", "4.00x(100.0)", "<=40.00x(10.0)", "n/a"));
  EXPECT_THAT(TableRow(table, "0.95", "ours"),
              ElementsAre("ours", "200.0", "4.76x(42.0)", "<=20.00x(10.0)", "n/a"));
  EXPECT_THAT(TableRow(table, "0.99", "ours"),
              ElementsAre("ours", "20.0", "n/a", "<=2.00x(10.0)", "n/a"));
  EXPECT_THAT(TableRow(table, "0.90", "faiss-ivf"),
              ElementsAre("faiss-ivf", "100.0", "-", "<=10.00x(10.0)", "n/a"));
  EXPECT_THAT(TableRow(table, "0.90", "hnswlib"), ElementsAre("hnswlib", "n/a", "n/a", "n/a", "-"));
  EXPECT_TRUE(IsBaseline("faiss-opq"));
  EXPECT_TRUE(IsBaseline("hnswlib"));
  EXPECT_FALSE(IsBaseline("funnel"));
}

TEST(PlotScriptTest, OneCurvePerMethodAndQuotedTitles) {
  RunMeta meta;
  meta.dataset = "it's";
  const std::string script =
      PlotScript(meta, {"flat", "faiss-flat"}, "/tmp/d", "pngcairo", "/tmp/out.png");
  for (const char* expected :
       {"set terminal pngcairo", "set logscale y", "set output '/tmp/out.png'", "it''s",
        "'/tmp/d/0.dat' index 0 using 1:2 with linespoints", "title 'faiss-flat'"}) {
    EXPECT_THAT(script, HasSubstr(expected));
  }
}

}  // namespace
}  // namespace adanns::bench
