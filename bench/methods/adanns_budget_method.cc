// `adanns-budget`: target-recall budgets on calibrated indexes, the planner's first proof. The
// build makes an AdANNS-IVF (d_c 32, d_s 64) and/or an AdANNS-HNSW graph (128 dims), calibrates
// them on `calibration_queries` stored vectors (index::Calibrate: the plan grid of every ready
// index and the flat funnels, k in {1, 10, 100}), and each search point's `target_recall` picks
// per query k the cheapest frontier plan calibrated at or above it (the k = 100 frontier above
// 100). The harness then measures recall on the real test queries, which calibration never saw.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/vector_table_index.h"
#include "index/calibration.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "index/status_macros.h"

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
              index::Calibration calibration)
      : table_(std::move(table)),
        metric_(metric),
        indexes_(std::move(indexes)),
        calibration_(std::move(calibration)),
        nesting_(DefaultNesting(table_->dim())) {
    for (const auto& served : indexes_) ready_.push_back(served.get());
  }

  absl::Status SetSearchParams(const Params& search) override {
    RETURN_IF_ERROR(CheckParamKeys(search, {"target_recall"}, "adanns-budget search"));
    const auto found = search.find("target_recall");
    if (found == search.end() || !(found->second > 0 && found->second <= 1)) {
      return absl::InvalidArgumentError("adanns-budget search: target_recall in (0, 1] is needed");
    }
    chosen_.clear();
    for (const index::Frontier& frontier : calibration_.frontiers) {
      const index::CalibrationPoint* point = index::CheapestReaching(frontier, found->second);
      // Not reached: the best the frontier has.
      chosen_[frontier.k] = point != nullptr ? point->plan : frontier.points.back().plan;
    }
    return absl::OkStatus();
  }

  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    // The nearest calibrated k at or above the request's (the largest above them all).
    auto it = chosen_.lower_bound(k);
    if (it == chosen_.end()) it = std::prev(chosen_.end());
    index::Budget budget;
    budget.plan = it->second;
    const index::CollectionShape shape{table_->dim(), nesting_, table_->size()};
    const index::Plan plan = *index::ChoosePlan(budget, shape, k, ready_);
    const index::SearchResult result = index::RunPlan(
        plan, *table_, metric_, std::span<const float>(query, table_->dim()), k, ready_);
    std::fill(ids, ids + k, -1);
    for (size_t i = 0; i < result.hits.size() && i < k; ++i) {
      ids[i] = static_cast<int64_t>(result.hits[i].id);
    }
    work->flops = result.cost.mflops * 1e6;
    work->vectors_scanned = result.cost.vectors_scanned;
  }

 private:
  std::unique_ptr<index::VectorTable> table_;
  Metric metric_;
  std::vector<std::unique_ptr<index::ServedIndex>> indexes_;
  std::vector<const index::ServedIndex*> ready_;
  index::Calibration calibration_;
  std::vector<uint32_t> nesting_;
  std::map<uint32_t, index::Plan> chosen_;  // by calibrated k
};

class AdannsBudgetMethod : public Method {
 public:
  std::string name() const override { return "adanns-budget"; }

  Grid DefaultGrid(const BenchData& /*data*/) const override {
    Grid grid;
    grid.builds.push_back({{"ivf", 1}, {"hnsw", 1}, {"calibration_queries", 200}});
    for (const double target : {0.8, 0.9, 0.95, 0.99}) {
      grid.searches.push_back({{"target_recall", target}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(
        CheckParamKeys(build, {"ivf", "hnsw", "calibration_queries"}, "adanns-budget build"));
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
    ASSIGN_OR_RETURN(
        index::Calibration calibration,
        index::Calibrate(*table, data.metric, ready, {dim, nesting, table->size()}, options));
    // The calibration sweep is reported as the "training" part of the build.
    stats->train_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::make_unique<BudgetIndex>(std::move(table), data.metric, std::move(indexes),
                                         std::move(calibration));
  }
};

ADANNS_REGISTER_METHOD("adanns-budget", AdannsBudgetMethod);

}  // namespace
}  // namespace adanns::bench
