// `adanns-budget`: compute budgets on calibrated indexes, through the server's planner. The build
// makes an AdANNS-IVF (d_c 32, d_s 64) and/or an AdANNS-HNSW graph (128 dims), calibrates them on
// `calibration_queries` stored vectors (index::Calibrate: the plan grid of every ready index and
// the flat funnels, k in {1, 10, 100}), and each search point's budget — `target_recall` or
// `max_mflops` — is planned by index::PlanSearch exactly as the server plans it. The harness then
// measures recall on the real test queries, which calibration never saw.
//
// The reference: with `oracle_k` (default 10) the build also calibrates the same grid on the test
// queries themselves (their exact truth), and search points with `oracle` 1 plan from that
// frontier — the cheapest plan of the grid that actually reaches the target on those queries.
//
// `adanns-default` is the same with the server's default index (index/default_graph.h: a graph on
// a nesting prefix, or a full-dim one where the prefix does not pay) instead of the IVF + graph.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/vector_table_index.h"
#include "index/budget_planner.h"
#include "index/calibration.h"
#include "index/default_graph.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"

namespace adanns::bench {
namespace {

// Powers of two from 8 below dim, and dim: the server's default nesting.
std::vector<uint32_t> DefaultNesting(uint32_t dim) {
  std::vector<uint32_t> nesting;
  for (uint32_t d = 8; d < dim; d *= 2) nesting.push_back(d);
  nesting.push_back(dim);
  return nesting;
}

class BudgetIndex : public BuiltIndex {
 public:
  BudgetIndex(std::unique_ptr<index::VectorTable> table, Metric metric,
              std::vector<std::unique_ptr<index::ServedIndex>> indexes,
              index::Calibration calibration, std::optional<index::Calibration> oracle)
      : table_(std::move(table)),
        metric_(metric),
        indexes_(std::move(indexes)),
        calibration_(std::move(calibration)),
        oracle_(std::move(oracle)),
        nesting_(DefaultNesting(table_->dim())) {
    for (const auto& served : indexes_) ready_.push_back(served.get());
  }

  absl::Status SetSearchParams(const Params& search) override {
    RETURN_IF_ERROR(
        CheckParamKeys(search, {"target_recall", "max_mflops", "oracle"}, "adanns-budget search"));
    ASSIGN_OR_RETURN(const uint32_t oracle, UintParam(search, "oracle", 0, 0, 1));
    if (oracle == 1 && !oracle_.has_value()) {
      return absl::InvalidArgumentError("adanns-budget search: oracle needs the build's oracle_k");
    }
    planning_ = oracle == 1 ? &*oracle_ : &calibration_;
    const auto recall = search.find("target_recall");
    const auto mflops = search.find("max_mflops");
    if ((recall == search.end()) == (mflops == search.end())) {
      return absl::InvalidArgumentError(
          "adanns-budget search: one of target_recall or max_mflops is needed");
    }
    budget_ = {};
    if (recall != search.end()) budget_.target_recall = static_cast<float>(recall->second);
    if (mflops != search.end()) budget_.max_mflops = mflops->second;
    return absl::OkStatus();
  }

  std::string PointPlan(uint32_t k) const override {
    return PlanAsTheServerText(budget_, *table_, metric_, nesting_, k, ready_, planning_);
  }
  bool PointIsBudget() const override { return true; }

  // Planned per query, inside the timed call, as the server plans every request; an
  // unplannable budget returns no hits.
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    ReportResult(
        SearchAsTheServer(budget_, *table_, metric_, nesting_,
                          std::span<const float>(query, table_->dim()), k, ready_, planning_),
        k, ids, work);
  }

 private:
  std::unique_ptr<index::VectorTable> table_;
  Metric metric_;
  std::vector<std::unique_ptr<index::ServedIndex>> indexes_;
  std::vector<const index::ServedIndex*> ready_;
  index::Calibration calibration_;
  std::optional<index::Calibration> oracle_;  // calibrated on the test queries
  const index::Calibration* planning_ = &calibration_;
  std::vector<uint32_t> nesting_;
  index::Budget budget_;
};

class AdannsBudgetMethod : public Method {
 public:
  std::string name() const override { return "adanns-budget"; }

  Grid DefaultGrid(const BenchData& /*data*/) const override {
    Grid grid;
    grid.builds.push_back(
        {{"ivf", 1}, {"hnsw", 1}, {"calibration_queries", 200}, {"oracle_k", 10}});
    for (const double target : {0.8, 0.9, 0.95, 0.99}) {
      grid.searches.push_back({{"target_recall", target}});
      grid.searches.push_back({{"target_recall", target}, {"oracle", 1}});
    }
    for (const double mflops : {0.05, 0.1, 0.2, 0.5, 1.0}) {
      grid.searches.push_back({{"max_mflops", mflops}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(
        CheckParamKeys(build, {"ivf", "hnsw", "default_graph", "calibration_queries", "oracle_k"},
                       "adanns-budget build"));
    ASSIGN_OR_RETURN(const uint32_t default_graph, UintParam(build, "default_graph", 0, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t oracle_k, UintParam(build, "oracle_k", 10, 0, 100));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    ASSIGN_OR_RETURN(const uint32_t with_ivf, UintParam(build, "ivf", 1, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t with_hnsw, UintParam(build, "hnsw", 1, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t queries,
                     UintParam(build, "calibration_queries", 200, 1, 10000));
    std::unique_ptr<index::VectorTable> table = MakeBaseTable(data);
    omp_set_num_threads(std::max(1, threads));
    std::vector<std::unique_ptr<index::ServedIndex>> indexes;
    stats->bytes_per_vector["full_vectors"] = dim * sizeof(float);
    if (with_ivf == 1) {
      index::IvfBuildParams params;
      params.nlist = DefaultIvfNlist(data.base.rows);
      params.coarse_dims = std::min(dim, 32u);
      params.search_dims = std::min(dim, 64u);
      ASSIGN_OR_RETURN(auto ivf, index::IvfIndex::Build(*table, data.metric, params));
      stats->bytes_per_vector["ivf"] =
          static_cast<double>(ivf->memory_bytes()) / static_cast<double>(data.base.rows);
      indexes.push_back(std::move(ivf));
    }
    if (default_graph == 1) {
      index::HnswBuildParams params;
      params.graph_dims = index::DefaultGraphDims(dim, DefaultNesting(dim));
      const index::TableAccess access =
          [&](const std::function<void(const index::VectorTable&)>& read) { read(*table); };
      index::GraphChoice choice;
      ASSIGN_OR_RETURN(auto graph, index::BuildDefaultGraph(access, data.metric, params, threads,
                                                            nullptr, nullptr, &choice));
      std::fprintf(stderr,
                   "[adanns-default] %u-dim graph %.1f us at recall@10 %.3f, full-dim %.1f us at "
                   "%.3f: kept %u dims\n",
                   choice.prefix_dims, choice.prefix_latency_us, choice.prefix_recall,
                   choice.full_latency_us, choice.full_recall, choice.chosen_dims);
      stats->bytes_per_vector["hnsw"] =
          static_cast<double>(graph->memory_bytes()) / static_cast<double>(data.base.rows);
      indexes.push_back(std::move(graph));
    }
    if (with_hnsw == 1) {
      index::HnswBuildParams params;
      params.graph_dims = std::min(dim, 128u);
      ASSIGN_OR_RETURN(auto graph, index::HnswIndex::Build(*table, data.metric, params, threads));
      stats->bytes_per_vector["hnsw"] =
          static_cast<double>(graph->memory_bytes()) / static_cast<double>(data.base.rows);
      indexes.push_back(std::move(graph));
    }
    std::vector<const index::ServedIndex*> ready;
    for (const auto& served : indexes) ready.push_back(served.get());
    const std::vector<uint32_t> nesting = DefaultNesting(dim);
    index::CalibrationOptions options;
    options.queries = queries;
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(index::Calibration calibration,
                     index::Calibrate(*table, data.metric, ready,
                                      {dim, nesting, table->size(), data.metric}, options));
    // The calibration sweep is reported as the "training" part of the build.
    stats->train_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::optional<index::Calibration> oracle;
    if (oracle_k > 0) {
      index::CalibrationOptions on_test;
      on_test.queries_given = data.queries.values;
      on_test.ks = {oracle_k};
      ASSIGN_OR_RETURN(oracle,
                       index::Calibrate(*table, data.metric, ready,
                                        {dim, nesting, table->size(), data.metric}, on_test));
    }
    return std::make_unique<BudgetIndex>(std::move(table), data.metric, std::move(indexes),
                                         std::move(calibration), std::move(oracle));
  }
};

class AdannsDefaultMethod : public AdannsBudgetMethod {
 public:
  std::string name() const override { return "adanns-default"; }

  Grid DefaultGrid(const BenchData& /*data*/) const override {
    Grid grid;
    grid.builds.push_back({{"ivf", 0},
                           {"hnsw", 0},
                           {"default_graph", 1},
                           {"calibration_queries", 200},
                           {"oracle_k", 0}});
    for (const double target : {0.9, 0.95, 0.99}) {
      grid.searches.push_back({{"target_recall", target}});
    }
    return grid;
  }
};

ADANNS_REGISTER_METHOD("adanns-budget", AdannsBudgetMethod);
ADANNS_REGISTER_METHOD("adanns-default", AdannsDefaultMethod);

}  // namespace
}  // namespace adanns::bench
