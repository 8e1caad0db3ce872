// `adanns-hnsw`: our AdANNS-HNSW (index::HnswIndex) as the server runs it: a graph over the
// graph_dims prefix, our search loop, exact re-rank at the full dim. graph_dims = dim without
// re-rank is a full-dim graph through the same code.
//
// adanns-bench also links the hnswlib baseline, compiled with -march=native; the linker keeps one
// copy of hnswlib's inline templates (the baseline's object comes first), so in this binary our
// graph's inserts may run that copy. Our search loop is our own code either way.
#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/hnsw_bytes.h"
#include "bench/methods/vector_table_index.h"
#include "index/hnsw_index.h"

namespace adanns::bench {
namespace {

class AdannsHnswMethod : public Method {
 public:
  std::string name() const override { return "adanns-hnsw"; }

  // Graphs on the 64- and 128-dim prefixes (M = 16, efConstruction = 100, as the hnswlib
  // baseline's first build), swept over ef with the re-rank depth tied to it and at 50.
  Grid DefaultGrid(const BenchData& data) const override {
    const double dim = static_cast<double>(data.base.cols);
    Grid grid;
    for (const double graph_dims : {64.0, 128.0}) {
      grid.builds.push_back(
          {{"graph_dims", std::min(dim, graph_dims)}, {"M", 16}, {"ef_construction", 100}});
    }
    for (const double ef : {10, 16, 24, 32, 48, 64, 96, 128, 192, 256}) {
      grid.searches.push_back({{"ef", ef}});
      if (ef > 50) grid.searches.push_back({{"ef", ef}, {"rerank_candidates", 50}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(
        CheckParamKeys(build, {"graph_dims", "M", "ef_construction"}, "adanns-hnsw build"));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    index::HnswBuildParams params;
    ASSIGN_OR_RETURN(params.graph_dims, UintParam(build, "graph_dims", 0, 0, dim));
    ASSIGN_OR_RETURN(params.m, UintParam(build, "M", 16, 2, 256));
    ASSIGN_OR_RETURN(params.ef_construction, UintParam(build, "ef_construction", 100, 1, 100000));
    std::unique_ptr<index::VectorTable> table = MakeBaseTable(data);
    ASSIGN_OR_RETURN(std::unique_ptr<index::HnswIndex> graph,
                     index::HnswIndex::Build(*table, data.metric, params, threads));
    const index::HnswStats graph_stats = graph->stats();
    stats->bytes_per_vector["full_vectors"] = dim * sizeof(float);
    // graph_bytes: hnswlib's level-0 records (links, the graph_dims prefix, the label) and upper
    // link lists, as the baseline's "full_vectors" + "graph"; then the same per-element extras.
    stats->bytes_per_vector["graph"] =
        static_cast<double>(graph_stats.graph_bytes) / static_cast<double>(data.base.rows);
    AddHnswElementOverhead(stats->bytes_per_vector);
    return std::make_unique<ServedIndexAdapter>(std::move(table), data.metric, std::move(graph));
  }
};

ADANNS_REGISTER_METHOD("adanns-hnsw", AdannsHnswMethod);

}  // namespace
}  // namespace adanns::bench
