// adanns-serve-load's reports: the text table and the JSON document of a ServeLoadReport.
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/serve_load/serve_load.h"
#include "client/readers/json_writer.h"

namespace adanns::bench {
namespace {

using readers::JsonNumber;
using readers::JsonObject;
using readers::JsonString;

std::string PointJson(const LoadPoint& point, std::optional<uint32_t> batch) {
  JsonObject json;
  json.Add("concurrency", JsonNumber(static_cast<uint64_t>(point.concurrency)));
  if (batch) json.Add("batch", JsonNumber(static_cast<uint64_t>(*batch)));
  json.Add("requests", JsonNumber(point.requests))
      .Add("queries", JsonNumber(point.queries))
      .Add("seconds", JsonNumber(point.seconds))
      .Add("qps", JsonNumber(point.qps))
      .Add(batch ? "p50_batch_us" : "p50_us", JsonNumber(point.p50_us))
      .Add(batch ? "p99_batch_us" : "p99_us", JsonNumber(point.p99_us))
      .Add(batch ? "max_batch_us" : "max_us", JsonNumber(point.max_us));
  return json.str();
}

const LoadPoint* FindConcurrencyOne(const ServeLoadReport& report) {
  for (const LoadPoint& point : report.search) {
    if (point.concurrency == 1) return &point;
  }
  return nullptr;
}

}  // namespace

std::string FormatReport(const ServeLoadOptions& options, const ServeLoadReport& report) {
  std::string out = absl::StrFormat(
      "adanns-serve-load: server %s, collection %s, data %s (%d x %d), %d queries, k=%d\n"
      "plan: %s\n",
      options.server, options.collection, report.dataset, report.base_rows, report.dim,
      report.queries, options.k, report.resolved_plan);
  if (report.ingest_vectors_per_s) {
    absl::StrAppendFormat(&out, "ingest: %.2f s, %.0f vectors/s\n", *report.ingest_seconds,
                          *report.ingest_vectors_per_s);
  }
  if (report.ingest_mb_per_s) {
    absl::StrAppendFormat(&out, "ingest: %.1f MB/s of vector bytes", *report.ingest_mb_per_s);
    if (report.disk_sync_mb_per_s) {
      absl::StrAppendFormat(&out, " = %.0f%% of the disk's synced write (dd, same run: %.1f MB/s)",
                            100 * *report.ingest_mb_per_s / *report.disk_sync_mb_per_s,
                            *report.disk_sync_mb_per_s);
    }
    out += "\n";
  } else if (report.disk_sync_mb_per_s) {
    absl::StrAppendFormat(&out, "disk synced write (dd): %.1f MB/s\n", *report.disk_sync_mb_per_s);
  }
  if (report.index_build_seconds) {
    absl::StrAppendFormat(&out, "index build (server): %.2f s\n", *report.index_build_seconds);
  }
  absl::StrAppendFormat(&out, "recall@%d (gRPC vs groundtruth): %.4f\n\n", options.k,
                        report.recall);
  absl::StrAppendFormat(&out, "%-24s %6s %10s %12s %12s %12s %12s\n", "mode", "conc", "requests",
                        "QPS", "p50_us", "p99_us", "max_us");
  const auto row = [&](const std::string& mode, const LoadPoint& point) {
    absl::StrAppendFormat(&out, "%-24s %6d %10d %12.1f %12.1f %12.1f %12.1f\n", mode,
                          point.concurrency, point.requests, point.qps, point.p50_us, point.p99_us,
                          point.max_us);
  };
  for (const LoadPoint& point : report.search) row("grpc Search", point);
  for (const LoadPoint& point : report.search_batch) {
    row(absl::StrCat("grpc SearchBatch(", options.batch, ")"), point);
  }
  if (report.in_process) row("in-process", *report.in_process);
  absl::StrAppendFormat(&out, "(SearchBatch latencies are per batch; QPS counts queries)\n");
  const LoadPoint* one = FindConcurrencyOne(report);
  if (report.in_process && one != nullptr) {
    absl::StrAppendFormat(&out,
                          "\nconcurrency 1: gRPC/in-process QPS = %.3f, p50 overhead = %.1f us "
                          "(%s)\n",
                          one->qps / report.in_process->qps,
                          one->p50_us - report.in_process->p50_us, report.in_process_note);
  } else {
    absl::StrAppendFormat(
        &out, "\nno in-process comparison: %s\n",
        report.in_process ? "concurrency 1 was not measured" : report.in_process_note);
  }
  if (report.mixed) {
    const MixedLoad& mixed = *report.mixed;
    absl::StrAppendFormat(&out, "\nmixed load (automatic plan, %.0f s each):\n",
                          options.mixed_seconds);
    row("search alone", mixed.idle);
    row("search under upserts", mixed.under_writes);
    absl::StrAppendFormat(&out,
                          "upserts: %llu vectors in %.1f s = %.0f vectors/s, %.1f MB/s; message "
                          "of %u acknowledged in p50 %.1f ms, p99 %.1f ms\n",
                          static_cast<unsigned long long>(mixed.upserted), mixed.upsert_seconds,
                          mixed.upsert_vectors_per_s, mixed.upsert_mb_per_s, options.mixed_message,
                          mixed.message_p50_ms, mixed.message_p99_ms);
    absl::StrAppendFormat(&out, "messages refused with RESOURCE_EXHAUSTED (and retried): %llu\n",
                          static_cast<unsigned long long>(mixed.refused_messages));
    absl::StrAppendFormat(&out, "search p99 under upserts / alone = %.2f; longest search %.1f ms\n",
                          mixed.under_writes.p99_us / mixed.idle.p99_us,
                          mixed.under_writes.max_us / 1e3);
  }
  return out;
}

std::string ReportJson(const ServeLoadOptions& options, const ServeLoadReport& report) {
  JsonObject meta;
  meta.Add("server", JsonString(options.server))
      .Add("collection", JsonString(options.collection))
      .Add("dataset", JsonString(report.dataset))
      .Add("n", JsonNumber(report.base_rows))
      .Add("dim", JsonNumber(static_cast<uint64_t>(report.dim)))
      .Add("queries", JsonNumber(static_cast<uint64_t>(report.queries)))
      .Add("k", JsonNumber(static_cast<uint64_t>(options.k)))
      .Add("seconds_per_measurement", JsonNumber(options.seconds))
      .Add("batch", JsonNumber(static_cast<uint64_t>(options.batch)))
      .Add("plan", JsonString(report.resolved_plan));
  JsonObject json;
  json.Add("meta", meta.str());
  if (report.ingest_vectors_per_s) {
    JsonObject ingest;
    ingest.Add("vectors", JsonNumber(report.base_rows))
        .Add("seconds", JsonNumber(*report.ingest_seconds))
        .Add("vectors_per_s", JsonNumber(*report.ingest_vectors_per_s));
    if (report.index_build_seconds) {
      ingest.Add("index_build_s", JsonNumber(*report.index_build_seconds));
    }
    json.Add("ingest", ingest.str());
  }
  json.Add("recall", JsonNumber(report.recall));
  std::string search = "[";
  for (const LoadPoint& point : report.search) {
    if (search.size() > 1) search += ",";
    search += PointJson(point, std::nullopt);
  }
  json.Add("search", search + "]");
  std::string batch = "[";
  for (const LoadPoint& point : report.search_batch) {
    if (batch.size() > 1) batch += ",";
    batch += PointJson(point, options.batch);
  }
  json.Add("search_batch", batch + "]");
  if (report.in_process) {
    json.Add("in_process", PointJson(*report.in_process, std::nullopt));
    const LoadPoint* one = FindConcurrencyOne(report);
    if (one != nullptr) {
      json.Add("qps_ratio_grpc_over_in_process", JsonNumber(one->qps / report.in_process->qps))
          .Add("p50_overhead_us", JsonNumber(one->p50_us - report.in_process->p50_us));
    }
  } else {
    json.Add("in_process", "null");
  }
  json.Add("in_process_note", JsonString(report.in_process_note));
  if (report.disk_sync_mb_per_s) {
    json.Add("disk_sync_mb_per_s", JsonNumber(*report.disk_sync_mb_per_s));
  }
  if (report.ingest_mb_per_s) json.Add("ingest_mb_per_s", JsonNumber(*report.ingest_mb_per_s));
  if (report.mixed) {
    const MixedLoad& mixed = *report.mixed;
    JsonObject object;
    object.Add("search_alone", PointJson(mixed.idle, std::nullopt))
        .Add("search_under_upserts", PointJson(mixed.under_writes, std::nullopt))
        .Add("upserted", JsonNumber(mixed.upserted))
        .Add("upsert_seconds", JsonNumber(mixed.upsert_seconds))
        .Add("upsert_vectors_per_s", JsonNumber(mixed.upsert_vectors_per_s))
        .Add("upsert_mb_per_s", JsonNumber(mixed.upsert_mb_per_s))
        .Add("message_vectors", JsonNumber(static_cast<uint64_t>(options.mixed_message)))
        .Add("message_p50_ms", JsonNumber(mixed.message_p50_ms))
        .Add("message_p99_ms", JsonNumber(mixed.message_p99_ms))
        .Add("refused_messages", JsonNumber(mixed.refused_messages));
    json.Add("mixed", object.str());
  }
  return json.str() + "\n";
}

}  // namespace adanns::bench
