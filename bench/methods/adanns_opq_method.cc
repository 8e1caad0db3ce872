// `adanns-opq`: our AdANNS-OPQ (quant::OpqIndex) as the server runs it: OPQ + PQ learned on a
// prefix (M bytes per vector), ADC over every code, exact re-rank from the full vectors
// (rerank_candidates = 0: none). prefix_dims = dim is rigid OPQ through the same code.
// `adanns-ivf-opq`: the composite "ivf_opq" plan: an AdANNS-IVF chooses the lists, the codebook
// scores their members, then the same re-rank.
#include <omp.h>

#include <algorithm>

#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/vector_table_index.h"
#include "index/ivf_index.h"
#include "quant/opq_index.h"

namespace adanns::bench {
namespace {

// Reads prefix_dims, m, opq_iters, train_rows (the faiss-opq baseline's training defaults: 10
// OPQ iterations over 25600 rows) and builds the codebook over `table`.
absl::StatusOr<std::unique_ptr<quant::OpqIndex>> BuildCodebook(const BenchData& data,
                                                               const Params& build,
                                                               const index::VectorTable& table,
                                                               int threads, BuildStats* stats) {
  const auto dim = static_cast<uint32_t>(data.base.cols);
  quant::OpqBuildParams params;
  ASSIGN_OR_RETURN(params.spec.m, UintParam(build, "m", 16, 8, 64));
  ASSIGN_OR_RETURN(params.spec.prefix_dims,
                   UintParam(build, "prefix_dims", std::min(dim, 8 * params.spec.m), 1, dim));
  ASSIGN_OR_RETURN(params.opq_iterations, UintParam(build, "opq_iters", 10, 1, 1000));
  ASSIGN_OR_RETURN(params.training_sample, UintParam(build, "train_rows", 25600, 256, UINT32_MAX));
  omp_set_num_threads(std::max(1, threads));
  ASSIGN_OR_RETURN(std::unique_ptr<quant::OpqIndex> opq,
                   quant::OpqIndex::Build(table, data.metric, params));
  const quant::OpqStats opq_stats = opq->stats();
  stats->train_s += opq_stats.train_seconds;
  stats->encode_s += opq_stats.encode_seconds;
  stats->bytes_per_vector["full_vectors"] = dim * sizeof(float);
  stats->bytes_per_vector["codes"] = params.spec.m;
  stats->bytes_per_vector["code_bookkeeping"] =
      static_cast<double>(opq_stats.bookkeeping_bytes) / static_cast<double>(data.base.rows);
  return opq;
}

class AdannsOpqMethod : public Method {
 public:
  std::string name() const override { return "adanns-opq"; }

  // M = 16 on the 64-, 128- and 256-dim prefixes and the full dim (rigid), swept over the re-rank
  // depth (0 = ADC only). Other byte budgets: bench/results/opq_grid.txt.
  Grid DefaultGrid(const BenchData& data) const override {
    const auto dim = static_cast<double>(data.base.cols);
    Grid grid;
    for (const double prefix : {64.0, 128.0, 256.0, dim}) {
      if (prefix <= dim && static_cast<uint32_t>(prefix) % 16 == 0) {
        grid.builds.push_back({{"prefix_dims", prefix}, {"m", 16}});
      }
    }
    for (const double candidates : {0, 50, 100, 200, 400}) {
      grid.searches.push_back({{"rerank_candidates", candidates}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(
        CheckParamKeys(build, {"prefix_dims", "m", "opq_iters", "train_rows"}, "adanns-opq build"));
    std::unique_ptr<index::VectorTable> table = MakeBaseTable(data);
    ASSIGN_OR_RETURN(std::unique_ptr<quant::OpqIndex> opq,
                     BuildCodebook(data, build, *table, threads, stats));
    return std::make_unique<ServedIndexAdapter>(std::move(table), data.metric, std::move(opq));
  }
};

ADANNS_REGISTER_METHOD("adanns-opq", AdannsOpqMethod);

class AdannsIvfOpqMethod : public Method {
 public:
  std::string name() const override { return "adanns-ivf-opq"; }

  // faiss-ivf's nlist with centroids on the 32-dim prefix, a 16-byte codebook on the 128-dim
  // prefix; nprobe x re-rank depth.
  Grid DefaultGrid(const BenchData& data) const override {
    const auto dim = static_cast<double>(data.base.cols);
    Grid grid;
    grid.builds.push_back({{"nlist", DefaultIvfNlist(data.base.rows)},
                           {"coarse_dims", std::min(dim, 32.0)},
                           {"prefix_dims", std::min(dim, 128.0)},
                           {"m", 16}});
    for (const double nprobe : {2, 4, 6, 8, 12, 16, 24, 32}) {
      for (const double candidates : {100, 200}) {
        grid.searches.push_back({{"nprobe", nprobe}, {"rerank_candidates", candidates}});
      }
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(
        build, {"nlist", "coarse_dims", "prefix_dims", "m", "opq_iters", "train_rows"},
        "adanns-ivf-opq build"));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    index::IvfBuildParams ivf_params;
    ASSIGN_OR_RETURN(ivf_params.nlist, UintParam(build, "nlist", DefaultIvfNlist(data.base.rows), 1,
                                                 static_cast<uint32_t>(data.base.rows)));
    ASSIGN_OR_RETURN(ivf_params.coarse_dims, UintParam(build, "coarse_dims", 32, 1, dim));
    // The composite never reads the IVF's list prefixes; the shortest the IVF allows is stored.
    ivf_params.search_dims = 1;
    Params codebook = build;
    codebook.erase("nlist");
    codebook.erase("coarse_dims");
    std::unique_ptr<index::VectorTable> table = MakeBaseTable(data);
    omp_set_num_threads(std::max(1, threads));
    ASSIGN_OR_RETURN(std::unique_ptr<index::IvfIndex> ivf,
                     index::IvfIndex::Build(*table, data.metric, ivf_params));
    ASSIGN_OR_RETURN(std::unique_ptr<quant::OpqIndex> opq,
                     BuildCodebook(data, codebook, *table, threads, stats));
    stats->bytes_per_vector["list_ids"] = sizeof(index::RowId);
    stats->bytes_per_vector["list_unused_prefix"] = sizeof(float);
    return std::make_unique<ServedIndexAdapter>(std::move(table), data.metric, std::move(opq),
                                                std::move(ivf));
  }
};

ADANNS_REGISTER_METHOD("adanns-ivf-opq", AdannsIvfOpqMethod);

}  // namespace
}  // namespace adanns::bench
