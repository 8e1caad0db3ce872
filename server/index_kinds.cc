// Build requests and loaders for "ivf", "hnsw" and "opq".
#include "server/index_kinds.h"

#include <omp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/default_graph.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// Marks the recorded parameters of a default-graph build (restarted as one after a crash).
constexpr char kDefaultGraphTag[] = "default:";

template <typename Built>
absl::StatusOr<std::unique_ptr<index::ServedIndex>> Upcast(
    absl::StatusOr<std::unique_ptr<Built>> built) {
  if (!built.ok()) return built.status();
  return std::unique_ptr<index::ServedIndex>(std::move(*built));
}

// A build's prefix parameter: 0 (the default, chosen within the resident prefix) or in
// 1..resident_dims.
absl::Status CheckPrefixParam(absl::string_view field, uint32_t value, uint32_t dim,
                              uint32_t resident_dims) {
  return value == 0 ? absl::OkStatus() : index::CheckBuildPrefix(field, value, dim, resident_dims);
}

}  // namespace

std::optional<std::string> KindOfIndexName(std::string_view name) {
  if (name == kIvfIndexName || name == kHnswIndexName) return std::string(name);
  if (name.substr(0, 3) == kOpqIndexKind && ParseCodebookSpec(name).ok()) {
    return kOpqIndexKind;
  }
  return std::nullopt;
}

BuildRequest MakeIvfBuild(const index::IvfBuildParams& params, Metric metric) {
  BuildRequest request;
  request.kind = kIvfIndexName;
  request.name = kIvfIndexName;
  request.encoded_params = index::EncodeBuildParams(params);
  request.check = [params](uint32_t dim, uint32_t resident_dims, size_t vectors) -> absl::Status {
    if (params.nlist > vectors) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ivf.nlist (", params.nlist, ") exceeds the collection's vectors (", vectors, ")"));
    }
    RETURN_IF_ERROR(CheckPrefixParam("ivf.coarse_dims", params.coarse_dims, dim, resident_dims));
    return CheckPrefixParam("ivf.search_dims", params.search_dims, dim, resident_dims);
  };
  request.build = [params, metric](const index::TableAccess& access, int threads,
                                   const index::Progress& progress, const std::atomic<bool>* cancel,
                                   const index::HeldOutRows& held_out) {
    omp_set_num_threads(std::max(1, threads));
    return Upcast(index::IvfIndex::Build(access, metric, params, progress, cancel, held_out));
  };
  return request;
}

BuildRequest MakeHnswBuild(const index::HnswBuildParams& params, Metric metric) {
  BuildRequest request;
  request.kind = kHnswIndexName;
  request.name = kHnswIndexName;
  request.encoded_params = index::EncodeHnswBuildParams(params);
  request.check = [params](uint32_t dim, uint32_t resident_dims, size_t /*vectors*/) {
    return CheckPrefixParam("hnsw.graph_dims", params.graph_dims, dim, resident_dims);
  };
  request.build = [params, metric](const index::TableAccess& access, int threads,
                                   const index::Progress& progress, const std::atomic<bool>* cancel,
                                   const index::HeldOutRows& held_out) {
    return Upcast(
        index::HnswIndex::Build(access, metric, params, threads, progress, cancel, held_out));
  };
  return request;
}

BuildRequest MakeDefaultGraphBuild(const index::HnswBuildParams& params, Metric metric) {
  BuildRequest request = MakeHnswBuild(params, metric);
  request.encoded_params = absl::StrCat(kDefaultGraphTag, request.encoded_params);
  request.build = [params, metric](const index::TableAccess& access, int threads,
                                   const index::Progress& progress, const std::atomic<bool>* cancel,
                                   const index::HeldOutRows& held_out) {
    index::GraphChoice choice;
    absl::StatusOr<std::unique_ptr<index::HnswIndex>> graph = index::BuildDefaultGraph(
        access, metric, params, threads, progress, cancel, &choice, held_out);
    if (graph.ok() && choice.full_latency_us > 0) {
      spdlog::info(
          "default graph: {}-dim prefix graph {:.1f} us at recall@10 {:.3f}, full-dim graph {:.1f} "
          "us at {:.3f}; kept the {}-dim graph",
          choice.prefix_dims, choice.prefix_latency_us, choice.prefix_recall,
          choice.full_latency_us, choice.full_recall, choice.chosen_dims);
    }
    return Upcast(std::move(graph));
  };
  return request;
}

BuildRequest MakeOpqBuild(const quant::OpqBuildParams& params, Metric metric) {
  BuildRequest request;
  request.kind = kOpqIndexKind;
  request.name = CodebookName(params.spec);
  request.encoded_params = quant::EncodeOpqBuildParams(params);
  request.check = [params](uint32_t dim, uint32_t resident_dims, size_t vectors) -> absl::Status {
    // A codebook may cover more than the resident prefix: its codes (m bytes a vector) are what
    // stays in memory, and training, encoding and start-up read the prefix from storage.
    RETURN_IF_ERROR(ValidateCodebookSpec(params.spec, dim));
    if (vectors < kCentroidsPerSubspace) {
      return absl::FailedPreconditionError(absl::StrCat(
          "codebook ", CodebookName(params.spec), " needs at least ", kCentroidsPerSubspace,
          " vectors to train (256 centroids per sub-quantizer); the "
          "collection has ",
          vectors));
    }
    return absl::OkStatus();
  };
  request.build = [params, metric](const index::TableAccess& access, int threads,
                                   const index::Progress& progress, const std::atomic<bool>* cancel,
                                   const index::HeldOutRows& held_out) {
    omp_set_num_threads(std::max(1, threads));
    return Upcast(quant::OpqIndex::Build(access, metric, params, progress, cancel, held_out));
  };
  return request;
}

absl::StatusOr<BuildRequest> DecodeBuild(std::string_view kind, std::string_view encoded_params,
                                         Metric metric) {
  if (kind == kIvfIndexName) {
    ASSIGN_OR_RETURN(const index::IvfBuildParams params, index::DecodeBuildParams(encoded_params));
    return MakeIvfBuild(params, metric);
  }
  if (kind == kHnswIndexName) {
    const bool default_graph = encoded_params.starts_with(kDefaultGraphTag);
    if (default_graph) encoded_params.remove_prefix(std::string_view(kDefaultGraphTag).size());
    ASSIGN_OR_RETURN(const index::HnswBuildParams params,
                     index::DecodeHnswBuildParams(encoded_params));
    return default_graph ? MakeDefaultGraphBuild(params, metric) : MakeHnswBuild(params, metric);
  }
  if (kind == kOpqIndexKind) {
    ASSIGN_OR_RETURN(const quant::OpqBuildParams params,
                     quant::DecodeOpqBuildParams(encoded_params));
    return MakeOpqBuild(params, metric);
  }
  return absl::DataLossError(absl::StrCat("unknown index kind '", std::string(kind), "'"));
}

absl::StatusOr<std::unique_ptr<index::ServedIndex>> LoadIndex(std::string_view kind,
                                                              std::string_view bytes,
                                                              const index::VectorTable& table,
                                                              Metric metric) {
  if (kind == kIvfIndexName) return Upcast(index::IvfIndex::Deserialize(bytes, table, metric));
  if (kind == kHnswIndexName) return Upcast(index::HnswIndex::Deserialize(bytes, table, metric));
  if (kind == kOpqIndexKind) return Upcast(quant::OpqIndex::Deserialize(bytes, table, metric));
  return absl::DataLossError(absl::StrCat("unknown index kind '", std::string(kind), "'"));
}

}  // namespace adanns::server
