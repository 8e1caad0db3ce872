// `adanns index build | describe | drop`: background index builds, with progress while waiting.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/codebook_spec.h"
#include "base/status_macros.h"
#include "client/commands/cli_context.h"
#include "client/progress.h"

namespace adanns::client {
namespace {

struct BuildArgs {
  std::string collection;
  // "ivf", "hnsw" or "default"; "" = inferred: the kind whose options are given, no index when
  // only codebooks are asked for, else the default index.
  std::string kind;
  // HNSW.
  uint32_t graph_dims = 0;
  uint32_t m = 0;
  uint32_t ef_construction = 0;
  // IVF.
  uint32_t nlist = 0;
  uint32_t coarse_dims = 0;
  uint32_t search_dims = 0;
  uint32_t iterations = 0;
  uint32_t training_sample = 0;
  uint64_t seed = 0;
  // OPQ codebooks.
  std::vector<std::string> codebooks;
  uint32_t opq_iterations = 0;
  uint32_t opq_training_sample = 0;
  bool no_wait = false;
};

// "128x16" or "opq128x16" as a CodebookSpec.
absl::StatusOr<v1::CodebookSpec> ParseCodebook(const std::string& text) {
  ASSIGN_OR_RETURN(const CodebookSpec spec, ParseCodebookSpec(text));
  v1::CodebookSpec out;
  out.set_prefix_dims(spec.prefix_dims);
  out.set_m(spec.m);
  return out;
}

absl::StatusOr<v1::IndexInfo> FindIndex(Client& client, const std::string& collection,
                                        const std::string& name) {
  v1::DescribeCollectionRequest request;
  request.set_name(collection);
  ASSIGN_OR_RETURN(v1::CollectionInfo info, client.DescribeCollection(request));
  for (const v1::IndexInfo& index : info.indexes()) {
    if (index.name() == name) return index;
  }
  return absl::NotFoundError(absl::StrCat("collection ", collection, " has no index ", name));
}

// Polls the index until it leaves "building", drawing its progress.
absl::StatusOr<v1::IndexInfo> WaitForBuild(Client& client, const std::string& collection,
                                           const std::string& name) {
  ProgressOptions options;
  options.unit = "percent";
  options.verb = "built";
  ProgressReporter progress(100, std::cerr, options);
  while (true) {
    ASSIGN_OR_RETURN(v1::IndexInfo index, FindIndex(client, collection, name));
    if (index.state() != "building") {
      progress.EndLine();
      return index;
    }
    progress.Update(static_cast<uint64_t>(100 * index.progress()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void AddBuild(CLI::App& parent, CliContext& context) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App* build = parent.add_subcommand(
      "build",
      "Build (or rebuild) a collection's AdANNS-IVF or AdANNS-HNSW index and/or AdANNS-OPQ "
      "codebooks in the background");
  build->add_option("--collection", args->collection, "Collection name")->required();
  build
      ->add_option("--kind", args->kind,
                   "Index kind: ivf, hnsw or default (a graph on a nesting prefix, kept only "
                   "where it beats a full-dim graph). Without --kind: the kind whose options are "
                   "given, none when only --opq is, else default")
      ->check(CLI::IsMember({"ivf", "hnsw", "default"}));
  build
      ->add_option("--opq", args->codebooks,
                   "OPQ codebooks, each <prefix_dims>x<M> (e.g. 64x16,128x32), served as "
                   "opq<prefix_dims>x<M>")
      ->delimiter(',');
  build->add_option("--opq-iterations", args->opq_iterations,
                    "OPQ: outer iterations (default: 10)");
  build->add_option("--opq-training-sample", args->opq_training_sample,
                    "OPQ: vectors sampled to train each codebook (default: min(N, 25600))");
  build->add_option("--graph-dims", args->graph_dims,
                    "HNSW: prefix the graph is built on (default: min(dim, 128))");
  build->add_option("--m", args->m, "HNSW: links per node per layer (default: 16)");
  build->add_option("--ef-construction", args->ef_construction,
                    "HNSW: beam width while inserting (default: 100)");
  build->add_option("--nlist", args->nlist, "IVF: number of lists (default: about 4*sqrt(N))");
  build->add_option("--coarse-dims", args->coarse_dims,
                    "IVF: prefix k-means runs on (default: min(dim, 64))");
  build->add_option("--search-dims", args->search_dims,
                    "IVF: prefix stored in the lists and scanned (default: min(dim, 128))");
  build->add_option("--iterations", args->iterations, "IVF: k-means iterations (default: 20)");
  build->add_option("--training-sample", args->training_sample,
                    "IVF: vectors sampled for k-means (default: min(N, 256*nlist))");
  build->add_option("--seed", args->seed,
                    "Seed (IVF, OPQ: sample and k-means, default 1234; HNSW: levels, default 100)");
  build->add_flag("--no-wait", args->no_wait,
                  "Return once the build has started (without it: wait for the build, then for "
                  "the calibration that follows it)");
  build->callback([args, &context] {
    context.run = [args](CliContext& run_context) -> absl::Status {
      v1::BuildIndexRequest request;
      request.set_collection(args->collection);
      std::string kind = args->kind;
      if (kind.empty()) {
        const bool ivf_options = args->nlist || args->coarse_dims || args->search_dims ||
                                 args->iterations || args->training_sample;
        const bool graph_options = args->graph_dims || args->m || args->ef_construction;
        if (ivf_options && graph_options) {
          return absl::InvalidArgumentError("IVF and HNSW options given together: choose --kind");
        }
        kind = ivf_options ? "ivf" : graph_options ? "hnsw" : "";
        if (kind.empty() && args->codebooks.empty()) kind = "default";
      }
      if (kind == "hnsw") {
        v1::HnswParams* hnsw = request.mutable_hnsw();
        hnsw->set_graph_dims(args->graph_dims);
        hnsw->set_m(args->m);
        hnsw->set_ef_construction(args->ef_construction);
        hnsw->set_seed(args->seed);
      } else if (kind == "ivf") {
        v1::IvfParams* ivf = request.mutable_ivf();
        ivf->set_nlist(args->nlist);
        ivf->set_coarse_dims(args->coarse_dims);
        ivf->set_search_dims(args->search_dims);
        ivf->set_kmeans_iterations(args->iterations);
        ivf->set_training_sample(args->training_sample);
        ivf->set_seed(args->seed);
      }
      if (!args->codebooks.empty()) {
        v1::OpqParams* opq = request.mutable_opq();
        for (const std::string& text : args->codebooks) {
          ASSIGN_OR_RETURN(*opq->add_codebooks(), ParseCodebook(text));
        }
        opq->set_opq_iterations(args->opq_iterations);
        opq->set_training_sample(args->opq_training_sample);
        opq->set_seed(args->seed);
      }
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      ASSIGN_OR_RETURN(const v1::BuildIndexResponse started, client->BuildIndex(request));
      absl::Status outcome;
      for (const v1::IndexInfo& index : started.indexes()) {
        if (args->no_wait) {
          PrintIndexInfo(index);
          continue;
        }
        ASSIGN_OR_RETURN(v1::IndexInfo done, WaitForBuild(*client, args->collection, index.name()));
        PrintIndexInfo(done);
        if (done.state() != "ready" && outcome.ok()) {
          outcome = absl::AbortedError(
              absl::StrCat("index ", done.name(), " build ", done.state(), ": ", done.error()));
        }
      }
      if (args->no_wait || !outcome.ok()) return outcome;
      // The last build to finish starts the calibration before it reports itself ready.
      ASSIGN_OR_RETURN(v1::CalibrationInfo calibration,
                       DescribeCalibration(*client, args->collection));
      ASSIGN_OR_RETURN(calibration,
                       WaitForCalibration(*client, args->collection, std::move(calibration)));
      if (calibration.state() == "none") return outcome;  // the server does not auto-calibrate
      std::printf("calibration: %s, from %s, up to %u queries a plan\n",
                  calibration.state().c_str(), calibration.source().c_str(), calibration.queries());
      if (calibration.state() != "ready") {
        return absl::AbortedError(absl::StrCat("the index is built but its calibration ",
                                               calibration.state(), ": ", calibration.error()));
      }
      return outcome;
    };
  });
}

void AddDescribe(CLI::App& parent, CliContext& context) {
  auto collection = std::make_shared<std::string>();
  CLI::App* describe = parent.add_subcommand("describe", "Show a collection's indexes");
  describe->add_option("--collection", *collection, "Collection name")->required();
  describe->callback([collection, &context] {
    context.run = [collection](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::DescribeCollectionRequest request;
      request.set_name(*collection);
      ASSIGN_OR_RETURN(v1::CollectionInfo info, client->DescribeCollection(request));
      for (const v1::IndexInfo& index : info.indexes()) PrintIndexInfo(index);
      return absl::OkStatus();
    };
  });
}

void AddDrop(CLI::App& parent, CliContext& context) {
  auto args = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* drop = parent.add_subcommand("drop", "Drop an index (cancels a running build)");
  drop->add_option("--collection", args->first, "Collection name")->required();
  drop->add_option("name", args->second, "Index name (ivf or hnsw)")->required();
  drop->callback([args, &context] {
    context.run = [args](CliContext& run_context) -> absl::Status {
      ASSIGN_OR_RETURN(Client * client, run_context.client());
      v1::DropIndexRequest request;
      request.set_collection(args->first);
      request.set_name(args->second);
      RETURN_IF_ERROR(client->DropIndex(request).status());
      std::printf("dropped index %s of %s\n", args->second.c_str(), args->first.c_str());
      return absl::OkStatus();
    };
  });
}

}  // namespace

void AddIndexCommands(CLI::App& app, CliContext& context) {
  CLI::App* index =
      app.add_subcommand("index", "Build, describe, drop indexes; calibrate and show the frontier");
  index->require_subcommand(1);
  AddBuild(*index, context);
  AddDescribe(*index, context);
  AddDrop(*index, context);
  AddCalibrationCommands(*index, context);
}

}  // namespace adanns::client
