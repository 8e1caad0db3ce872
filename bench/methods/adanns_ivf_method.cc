// `adanns-ivf`: our AdANNS-IVF (index::IvfIndex) as the server runs it: k-means on the d_c prefix,
// lists of the d_s prefix, exact re-rank at the full dim. A build with d_c = d_s = dim and no
// re-rank is rigid IVF through the same code.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <span>

#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/vector_table_index.h"
#include "index/ivf_index.h"
#include "index/vector_table.h"

namespace adanns::bench {
namespace {

class AdannsIvfMethod : public Method {
 public:
  std::string name() const override { return "adanns-ivf"; }

  // Two AdANNS builds (d_c, d_s) = (32, 64) and (64, 128) at faiss-ivf's nlist, swept over nprobe
  // and re-rank depth. Wider (d_c, d_s) sweeps come from a grid file
  // (bench/results/ivf_pareto_grid.txt); rigid IVF is `adanns-rigid-ivf`.
  Grid DefaultGrid(const BenchData& data) const override {
    const double dim = static_cast<double>(data.base.cols);
    const double nlist = DefaultIvfNlist(data.base.rows);
    Grid grid;
    for (const auto& [coarse, search] : {std::pair{32.0, 64.0}, std::pair{64.0, 128.0}}) {
      grid.builds.push_back({{"nlist", nlist},
                             {"coarse_dims", std::min(dim, coarse)},
                             {"search_dims", std::min(dim, search)}});
    }
    for (double nprobe : {1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64}) {
      for (double candidates : {50, 100, 200}) {
        if (nprobe <= nlist) {
          grid.searches.push_back({{"nprobe", nprobe}, {"rerank_candidates", candidates}});
        }
      }
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(
        build, {"nlist", "coarse_dims", "search_dims", "kmeans_iterations", "training_sample"},
        "adanns-ivf build"));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    index::IvfBuildParams params;
    ASSIGN_OR_RETURN(params.nlist, UintParam(build, "nlist", DefaultIvfNlist(data.base.rows), 1,
                                             static_cast<uint32_t>(data.base.rows)));
    ASSIGN_OR_RETURN(params.coarse_dims, UintParam(build, "coarse_dims", 64, 1, dim));
    ASSIGN_OR_RETURN(params.search_dims, UintParam(build, "search_dims", 128, 1, dim));
    ASSIGN_OR_RETURN(params.kmeans_iterations, UintParam(build, "kmeans_iterations", 20, 1, 1000));
    ASSIGN_OR_RETURN(params.training_sample, UintParam(build, "training_sample", 0, 0, UINT32_MAX));

    std::unique_ptr<index::VectorTable> table = MakeBaseTable(data);
    omp_set_num_threads(std::max(1, threads));
    const auto start = std::chrono::steady_clock::now();
    double train_s = 0;
    // k-means is the first 70% of the build's progress; the rest is assignment.
    auto progress = [&](double fraction) {
      if (fraction >= 0.7 && train_s == 0) {
        train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    };
    ASSIGN_OR_RETURN(std::unique_ptr<index::IvfIndex> ivf,
                     index::IvfIndex::Build(*table, data.metric, params, progress));
    const double build_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stats->train_s = train_s;
    stats->encode_s = build_s - train_s;
    const index::IvfStats ivf_stats = ivf->stats();
    stats->bytes_per_vector["full_vectors"] = dim * sizeof(float);
    stats->bytes_per_vector["list_vectors"] = ivf_stats.search_dims * sizeof(float);
    stats->bytes_per_vector["list_ids"] = sizeof(index::RowId);
    return std::make_unique<ServedIndexAdapter>(std::move(table), data.metric, std::move(ivf));
  }
};

ADANNS_REGISTER_METHOD("adanns-ivf", AdannsIvfMethod);

// `adanns-rigid-ivf`: the same code with d_c = d_s = dim and no re-rank, i.e. rigid IVF on our
// kernels: the baseline the AdANNS decoupling is measured against.
class AdannsRigidIvfMethod : public AdannsIvfMethod {
 public:
  std::string name() const override { return "adanns-rigid-ivf"; }

  // faiss-ivf's nlist; nprobe 1...64.
  Grid DefaultGrid(const BenchData& data) const override {
    const double nlist = DefaultIvfNlist(data.base.rows);
    Grid grid;
    grid.builds.push_back({{"nlist", nlist}});
    for (double nprobe : {1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64}) {
      if (nprobe <= nlist) grid.searches.push_back({{"nprobe", nprobe}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    if (build.count("coarse_dims") > 0 || build.count("search_dims") > 0) {
      return absl::InvalidArgumentError(
          "adanns-rigid-ivf build: coarse_dims and search_dims are the full dim");
    }
    Params rigid = build;
    rigid["coarse_dims"] = static_cast<double>(data.base.cols);
    rigid["search_dims"] = static_cast<double>(data.base.cols);
    return AdannsIvfMethod::Build(data, rigid, threads, stats);
  }
};

ADANNS_REGISTER_METHOD("adanns-rigid-ivf", AdannsRigidIvfMethod);

}  // namespace
}  // namespace adanns::bench
