// `adanns index calibrate | frontier`: measure a collection's accuracy-compute frontier, and show
// it as a table or a recall-vs-MFLOPs plot (gnuplot).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"
#include "client/progress.h"

namespace adanns::client {

absl::StatusOr<v1::CalibrationInfo> DescribeCalibration(Client& client,
                                                        const std::string& collection) {
  v1::DescribeCollectionRequest request;
  request.set_name(collection);
  ASSIGN_OR_RETURN(v1::CollectionInfo info, client.DescribeCollection(request));
  return info.calibration();
}

absl::StatusOr<v1::CalibrationInfo> WaitForCalibration(Client& client,
                                                       const std::string& collection,
                                                       v1::CalibrationInfo info) {
  ProgressOptions options;
  options.unit = "percent";
  options.verb = "calibrated";
  ProgressReporter progress(100, std::cerr, options);
  while (info.state() == "calibrating") {
    progress.Update(static_cast<uint64_t>(100 * info.progress()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSIGN_OR_RETURN(info, DescribeCalibration(client, collection));
  }
  progress.EndLine();
  return info;
}

namespace {

void PrintFrontiers(const v1::CalibrationInfo& info, uint32_t only_k) {
  std::printf("calibration: %s", info.state().c_str());
  if (info.state() == "calibrating") std::printf(" (%.0f%%)", 100 * info.progress());
  if (!info.error().empty()) std::printf(" (%s)", info.error().c_str());
  if (info.seconds() > 0) std::printf(", last took %.1f s", info.seconds());
  std::printf(", up to %u queries a plan", info.queries());
  if (!info.source().empty()) {
    std::printf(", from %s, %.0f s old", info.source().c_str(), info.age_seconds());
  }
  std::printf("; reservoir %u queries\n", info.reservoir_queries());
  if (!info.recalibration_reason().empty()) {
    std::printf("due for a new calibration: %s\n", info.recalibration_reason().c_str());
  }
  for (const v1::Frontier& frontier : info.frontiers()) {
    if (only_k != 0 && frontier.k() != only_k) continue;
    std::printf("k=%u\n  %10s %8s %8s %8s %12s %-9s  %s\n", frontier.k(), "MFLOPs", "recall",
                "bound", "queries", "latency_us", "source", "plan");
    for (const v1::FrontierPoint& point : frontier.points()) {
      std::printf("  %10.4g %8.4f %8.4f %8u %12.1f %-9s  %s\n", point.mflops(), point.recall(),
                  point.recall() - 1.645 * point.recall_stderr(), point.queries(),
                  point.latency_us(), point.source().c_str(), PlanText(point.plan()).c_str());
    }
  }
}

// gnuplot single-quoted string (the quote itself doubled).
std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Recall@k vs MFLOPs (log scale), one line per k, through gnuplot's inline data.
absl::Status WriteFrontierPng(const std::string& collection, const v1::CalibrationInfo& info,
                              const std::string& png) {
  std::string script = absl::StrCat(
      "set terminal png noenhanced size 1000,700\nset output ", Quoted(png), "\nset title ",
      Quoted(absl::StrCat(collection, ": calibrated frontier (", info.queries(), " queries)")),
      "\nset xlabel 'MFLOPs per query (log scale)'\nset ylabel 'recall@k'\nset logscale x\n"
      "set grid\nset key bottom right\nplot ");
  std::string data;
  for (int i = 0; i < info.frontiers_size(); ++i) {
    const v1::Frontier& frontier = info.frontiers(i);
    absl::StrAppend(&script, i > 0 ? ", " : "", "'-' using 1:2 with linespoints lw 2 pt 7 title ",
                    Quoted(absl::StrCat("k=", frontier.k())));
    for (const v1::FrontierPoint& point : frontier.points()) {
      absl::StrAppendFormat(&data, "%.6g %.6f\n", point.mflops(), point.recall());
    }
    data += "e\n";
  }
  if (info.frontiers_size() == 0) {
    return absl::FailedPreconditionError("the collection has no calibrated frontier to plot");
  }
  script += "\n" + data;
  FILE* gnuplot = popen("gnuplot 2>&1", "w");
  if (gnuplot == nullptr) return absl::InternalError("cannot start gnuplot");
  std::fwrite(script.data(), 1, script.size(), gnuplot);
  const int status = pclose(gnuplot);
  if (status != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("gnuplot failed (exit status ", status,
                     "); is it installed (apt-get install gnuplot-nox)?"));
  }
  std::printf("wrote %s\n", png.c_str());
  return absl::OkStatus();
}

struct CalibrateArgs {
  std::string collection;
  std::string source = "auto";
  uint32_t queries = 0;
  std::vector<uint32_t> ks;
  uint64_t seed = 0;
  bool no_wait = false;
};

void AddCalibrate(CLI::App& parent, CliContext& context) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* calibrate = parent.add_subcommand(
      "calibrate",
      "Measure the collection's recall-vs-MFLOPs frontier over its ready indexes (the budget "
      "planner's ground truth); builds do this on their own");
  calibrate->add_option("--collection", args->collection, "Collection name")->required();
  calibrate
      ->add_option("--source", args->source,
                   "auto: the reservoir of recent queries once it holds 100, else stored vectors "
                   "for the flat plans (indexes keep their held-out build calibration); sampled: "
                   "stored vectors for every plan (index plans read optimistic); reservoir")
      ->check(CLI::IsMember({"auto", "sampled", "reservoir"}));
  calibrate->add_option("--queries", args->queries,
                        "Queries every plan runs on (default: the server's, 200; plans near a "
                        "common target run on up to 4x)");
  calibrate->add_option("--ks", args->ks, "Values of k to calibrate (default: 1,10,100)")
      ->delimiter(',');
  calibrate->add_option("--seed", args->seed, "Seed of the query sample (default: 1234)");
  calibrate->add_flag("--no-wait", args->no_wait, "Return once the calibration has started");
  calibrate->callback([args, &context] {
    context.run = [args](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::CalibrateRequest request;
      request.set_collection(args->collection);
      request.set_queries(args->queries);
      for (const uint32_t k : args->ks) request.add_ks(k);
      request.set_seed(args->seed);
      request.set_source(args->source == "sampled"     ? v1::CALIBRATION_SOURCE_SAMPLED
                         : args->source == "reservoir" ? v1::CALIBRATION_SOURCE_RESERVOIR
                                                       : v1::CALIBRATION_SOURCE_AUTO);
      ASSIGN_OR_RETURN(v1::CalibrationInfo info, client->Calibrate(request));
      if (!args->no_wait) {
        ASSIGN_OR_RETURN(info, WaitForCalibration(*client, args->collection, std::move(info)));
      }
      PrintFrontiers(info, 0);
      if (!args->no_wait && info.state() != "ready") {
        return absl::AbortedError(absl::StrCat("calibration ", info.state(), ": ", info.error()));
      }
      return absl::OkStatus();
    };
  });
}

void AddFrontier(CLI::App& parent, CliContext& context) {
  auto collection = std::make_shared<std::string>();
  auto k = std::make_shared<uint32_t>(0);
  auto png = std::make_shared<std::string>();
  CLI::App* frontier = parent.add_subcommand(
      "frontier", "Show the calibrated frontier (recall@k vs MFLOPs per plan) the planner uses");
  frontier->add_option("--collection", *collection, "Collection name")->required();
  frontier->add_option("--k", *k, "Only this calibrated k (default: all)");
  frontier->add_option("--png", *png, "Also plot recall vs MFLOPs to this PNG (gnuplot)");
  frontier->callback([collection, k, png, &context] {
    context.run = [collection, k, png](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      ASSIGN_OR_RETURN(const v1::CalibrationInfo info, DescribeCalibration(*client, *collection));
      PrintFrontiers(info, *k);
      if (!png->empty()) return WriteFrontierPng(*collection, info, *png);
      return absl::OkStatus();
    };
  });
}

}  // namespace

void AddCalibrationCommands(CLI::App& index_group, CliContext& context) {
  AddCalibrate(index_group, context);
  AddFrontier(index_group, context);
}

}  // namespace adanns::client
