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
namespace {

absl::StatusOr<v1::CalibrationInfo> DescribeCalibration(Client& client,
                                                        const std::string& collection) {
  v1::DescribeCollectionRequest request;
  request.set_name(collection);
  ASSIGN_OR_RETURN(v1::CollectionInfo info, client.DescribeCollection(request));
  return info.calibration();
}

void PrintFrontiers(const v1::CalibrationInfo& info, uint32_t only_k) {
  std::printf("calibration: %s", info.state().c_str());
  if (info.state() == "calibrating") std::printf(" (%.0f%%)", 100 * info.progress());
  if (!info.error().empty()) std::printf(" (%s)", info.error().c_str());
  if (info.seconds() > 0) std::printf(", last took %.1f s", info.seconds());
  std::printf(", %u queries\n", info.queries());
  for (const v1::Frontier& frontier : info.frontiers()) {
    if (only_k != 0 && frontier.k() != only_k) continue;
    std::printf("k=%u\n  %10s %8s %12s  %s\n", frontier.k(), "MFLOPs", "recall", "latency_us",
                "plan");
    for (const v1::FrontierPoint& point : frontier.points()) {
      std::printf("  %10.4g %8.4f %12.1f  %s\n", point.mflops(), point.recall(), point.latency_us(),
                  PlanText(point.plan()).c_str());
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
  calibrate->add_option("--queries", args->queries,
                        "Stored vectors sampled as queries (default: the server's, 200)");
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
      ASSIGN_OR_RETURN(v1::CalibrationInfo info, client->Calibrate(request));
      ProgressOptions options;
      options.unit = "percent";
      options.verb = "calibrated";
      ProgressReporter progress(100, std::cerr, options);
      while (!args->no_wait && info.state() == "calibrating") {
        progress.Update(static_cast<uint64_t>(100 * info.progress()));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        ASSIGN_OR_RETURN(info, DescribeCalibration(*client, args->collection));
      }
      progress.EndLine();
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
