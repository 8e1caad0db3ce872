#include "bench/harness/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/harness/frontier.h"
#include "bench/harness/json_writer.h"
#include "bench/harness/params.h"

namespace adanns::bench {
namespace {

// Measurements carry about 3 digits of signal; 6 keeps the files short and exact enough.
constexpr int kDigits = 6;

void WriteMeta(const RunMeta& meta, JsonWriter& json) {
  const auto text = [&json](const char* key, const std::string& value) {
    json.Key(key);
    json.String(value);
  };
  const auto integer = [&json](const char* key, uint64_t value) {
    json.Key(key);
    json.Integer(static_cast<int64_t>(value));
  };
  json.Key("meta");
  json.BeginObject();
  text("dataset", meta.dataset);
  text("metric", meta.metric);
  integer("n", meta.n);
  integer("dim", meta.dim);
  integer("queries", meta.queries);
  integer("k", meta.k);
  text("cpu", meta.cpu);
  json.Key("cpu_flags");
  json.BeginArray(/*single_line=*/true);
  for (const std::string& flag : meta.cpu_flags) json.String(flag);
  json.EndArray();
  text("commit", meta.commit);
  json.Key("clean");
  json.Bool(meta.clean);
  integer("threads", static_cast<uint64_t>(meta.threads));
  integer("query_threads", static_cast<uint64_t>(meta.query_threads));
  integer("batch", meta.batch);
  text("device", meta.device);
  json.Key("max_seconds_per_point");
  json.Number(meta.max_seconds_per_point);
  integer("repeat", static_cast<uint64_t>(meta.repeat));
  text("huge_pages", meta.huge_pages);
  text("thp_mode", meta.thp_mode);
  integer("anon_huge_pages_bytes", meta.anon_huge_pages_bytes);
  integer("peak_rss_bytes", meta.peak_rss_bytes);
  json.Key("interleaved_methods");
  json.Bool(meta.interleaved_methods);
  text("faiss", "Debian libfaiss 1.7.3, generic x86-64 build");
  json.EndObject();
}

void WriteParams(const Params& params, JsonWriter& json) {
  json.BeginObject();
  for (const auto& [key, value] : params) {
    json.Key(key);
    json.Number(value);
  }
  json.EndObject();
}

void WritePoint(const PointResult& point, JsonWriter& json) {
  json.BeginObject(/*single_line=*/true);
  json.Key("method");
  json.String(point.method);
  json.Key("params");
  WriteParams(point.params, json);
  const std::pair<const char*, double> measured[] = {
      {"recall", point.recall},
      {"id_recall", point.id_recall},
      {"qps", point.qps},
      {"qps_min", point.qps_min},
      {"qps_max", point.qps_max},
      {"p50_us", point.p50_us},
      {"p50_us_min", point.p50_us_min},
      {"p50_us_max", point.p50_us_max},
      {"p99_us", point.p99_us},
      {"p99_us_min", point.p99_us_min},
      {"p99_us_max", point.p99_us_max},
      {"mflops_per_query", point.mflops_per_query},
      {"vectors_scanned_per_query", point.vectors_scanned_per_query},
      {"vectors_fetched_per_query", point.vectors_fetched_per_query},
      {"block_cache_hit_ratio", point.block_cache_hit_ratio},
      {"build_s", point.build.build_s},
      {"train_s", point.build.train_s},
      {"encode_s", point.build.encode_s},
  };
  for (const auto& [key, value] : measured) {
    json.Key(key);
    json.Number(value, kDigits);
  }
  json.Key("bytes_per_vector");
  json.BeginObject();
  for (const auto& [component, bytes] : point.build.bytes_per_vector) {
    json.Key(component);
    json.Number(bytes, kDigits);
  }
  json.EndObject();
  json.Key("queries");
  json.Integer(static_cast<int64_t>(point.queries));
  json.Key("repeats");
  json.Integer(point.repeats);
  json.Key("plan");
  json.String(point.plan);
  if (!point.same_plan.empty()) {
    json.Key("same_plan");
    json.BeginArray(/*single_line=*/true);
    for (const Params& params : point.same_plan) WriteParams(params, json);
    json.EndArray();
  }
  json.Key("memory");
  json.String(point.build.memory_treatment);
  json.Key("anon_huge_pages_bytes");
  json.Number(point.build.anon_huge_pages_bytes);
  json.EndObject();
}

// A CSV field, quoted when it holds a comma, quote or line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string CsvNumber(double value) {
  return std::isfinite(value) ? absl::StrFormat("%.*g", kDigits, value) : "";
}

std::string RatioCell(double ours, const FrontierQps& baseline) {
  if (baseline.coverage == Coverage::kAboveFrontier || baseline.qps <= 0) return "n/a";
  // The baseline's QPS the ratio divides by, beside it: the table quotes both of its numbers.
  return absl::StrFormat("%s%.2fx(%.1f)", baseline.coverage == Coverage::kBelowFrontier ? "<=" : "",
                         ours / baseline.qps, baseline.qps);
}

}  // namespace

std::string ReportJson(const RunMeta& meta, const std::vector<PointResult>& points) {
  JsonWriter json;
  json.BeginObject();
  WriteMeta(meta, json);
  json.Key("points");
  json.BeginArray();
  for (const PointResult& point : points) WritePoint(point, json);
  json.EndArray();
  json.EndObject();
  return json.text();
}

std::string ReportCsv(const std::vector<PointResult>& points) {
  std::string csv =
      "method,params,recall,id_recall,qps,p50_us,p99_us,mflops_per_query,vectors_scanned_per_query,"
      "vectors_fetched_per_query,block_cache_hit_ratio,build_s,"
      "train_s,encode_s,bytes_per_vector_total,queries,repeats,qps_min,qps_max,plan\n";
  for (const PointResult& point : points) {
    const auto total = point.build.bytes_per_vector.find("total");
    absl::StrAppend(&csv, CsvField(point.method), ",", CsvField(FormatParams(point.params)), ",",
                    CsvNumber(point.recall), ",", CsvNumber(point.id_recall), ",",
                    CsvNumber(point.qps), ",", CsvNumber(point.p50_us), ",",
                    CsvNumber(point.p99_us), ",", CsvNumber(point.mflops_per_query), ",",
                    CsvNumber(point.vectors_scanned_per_query), ",",
                    CsvNumber(point.vectors_fetched_per_query), ",",
                    CsvNumber(point.block_cache_hit_ratio), ",", CsvNumber(point.build.build_s),
                    ",", CsvNumber(point.build.train_s), ",", CsvNumber(point.build.encode_s), ",",
                    CsvNumber(total == point.build.bytes_per_vector.end() ? NAN : total->second),
                    ",", point.queries, ",", point.repeats, ",", CsvNumber(point.qps_min), ",",
                    CsvNumber(point.qps_max), ",", CsvField(point.plan), "\n");
  }
  return csv;
}

bool IsBaseline(const std::string& method) {
  return method.rfind("faiss-", 0) == 0 || method == "hnswlib";
}

std::vector<std::string> MethodOrder(const std::vector<PointResult>& points) {
  std::vector<std::string> order;
  for (const PointResult& point : points) {
    if (std::find(order.begin(), order.end(), point.method) == order.end()) {
      order.push_back(point.method);
    }
  }
  return order;
}

std::string ComparisonTable(const RunMeta& meta, const std::vector<PointResult>& points,
                            const std::vector<double>& recalls) {
  const std::vector<std::string> methods = MethodOrder(points);
  std::map<std::string, std::vector<RecallQps>> measured;
  for (const PointResult& point : points) {
    measured[point.method].push_back({point.recall, point.qps});
  }
  std::vector<std::string> baselines;
  for (const std::string& method : methods) {
    if (IsBaseline(method)) baselines.push_back(method);
  }
  std::string table = absl::StrFormat(
      "Best QPS at recall@%u >= r on %s (%d thread(s), batch %u, %d query thread(s), %s; FAISS is "
      "Debian's generic x86-64 build)\n",
      meta.k, meta.dataset, meta.threads, meta.batch, meta.query_threads, meta.cpu);
  table +=
      "ours = best measured point with recall >= r (the best qps column); baseline = its Pareto "
      "frontier at r (log QPS\nlinear in recall); a cell is ours / baseline, with the baseline's "
      "QPS at r in parentheses;\n\"<=\" = r is below the baseline's frontier, so its fastest "
      "point stands in and the ratio is an upper bound;\nn/a = r not reached, or above the "
      "baseline's frontier.\n";
  for (const double recall : recalls) {
    absl::StrAppendFormat(&table, "\nrecall >= %.2f\n  %-16s %12s", recall, "method", "best qps");
    for (const std::string& baseline : baselines) {
      absl::StrAppendFormat(&table, " %22s", absl::StrCat("vs ", baseline));
    }
    table += "\n";
    for (const std::string& method : methods) {
      const std::optional<double> ours = BestQpsAtRecall(measured[method], recall);
      absl::StrAppendFormat(&table, "  %-16s %12s", method,
                            ours ? absl::StrFormat("%.1f", *ours) : std::string("n/a"));
      for (const std::string& baseline : baselines) {
        std::string cell = "-";
        if (baseline != method) {
          cell = ours ? RatioCell(*ours, QpsOnFrontier(ParetoFrontier(measured[baseline]), recall))
                      : "n/a";
        }
        absl::StrAppendFormat(&table, " %22s", cell);
      }
      table += "\n";
    }
  }
  return table;
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace adanns::bench
