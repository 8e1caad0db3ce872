// `adanns-budget`: compute budgets on calibrated indexes, through the server's planner. The build
// makes an AdANNS-IVF (d_c 32, d_s 64) and/or an AdANNS-HNSW graph (128 dims) and calibrates them
// `seeds` times on `calibration_queries` queries each (k = `calibration_k`, 0: 1, 10 and 100), the
// way the build param `calibration` says: 1 (the server's way) the indexes are built without
// seeds x calibration_queries rows set aside, each seed's index points are measured on its own
// disjoint share of them and its flat points on sampled stored vectors, then the rows are inserted;
// 0 every plan on sampled stored vectors (self-queries, index nodes), the seed varying the sample;
// 2 every plan on a reservoir of test-like queries (the data file's queries after the measured
// ones, BenchData::spare_queries: a disjoint share per seed), as the server calibrates on the
// reservoir of its recent queries.
// Each search point's budget — `target_recall` or `max_mflops` — is planned from the calibration of
// its `seed` by index::PlanSearch exactly as the server plans it. The harness then measures recall
// on the real test queries, which calibration never saw; bench/scripts/budget_miss_rate.py turns
// the points into the miss rate across seeds per target.
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
#include <random>

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

constexpr uint32_t kDefaultSeeds = 10;
// Build param `calibration`: where the calibration queries come from.
constexpr uint32_t kSelfSource = 0;
constexpr uint32_t kHeldOutSource = 1;
constexpr uint32_t kReservoirSource = 2;
constexpr uint64_t kHeldOutSeed = 0x1d0u;
constexpr uint64_t kCalibrationSeed = 1234;

// Powers of two from 8 below dim, and dim: the server's default nesting.
std::vector<uint32_t> DefaultNesting(uint32_t dim) {
  std::vector<uint32_t> nesting;
  for (uint32_t d = 8; d < dim; d *= 2) nesting.push_back(d);
  nesting.push_back(dim);
  return nesting;
}

class BudgetIndex : public BuiltIndex {
 public:
  // `calibrations`: the planner's merged frontier of each seed.
  BudgetIndex(std::unique_ptr<index::VectorTable> table, Metric metric,
              std::vector<std::unique_ptr<index::ServedIndex>> indexes,
              std::vector<index::Calibration> calibrations,
              std::optional<index::Calibration> oracle)
      : table_(std::move(table)),
        metric_(metric),
        indexes_(std::move(indexes)),
        calibrations_(std::move(calibrations)),
        oracle_(std::move(oracle)),
        nesting_(DefaultNesting(table_->dim())) {
    for (const auto& served : indexes_) ready_.push_back(served.get());
    // The same frontiers planned by their mean recall (no standard error): the choice the 95%
    // bound replaced, to price it.
    for (index::Calibration calibration : calibrations_) {
      for (index::Frontier& frontier : calibration.frontiers) {
        for (index::CalibrationPoint& point : frontier.points) point.recall_stderr = 0;
      }
      by_mean_.push_back(std::move(calibration));
    }
  }

  absl::Status SetSearchParams(const Params& search) override {
    RETURN_IF_ERROR(CheckParamKeys(search,
                                   {"target_recall", "max_mflops", "oracle", "seed", "mean_rule"},
                                   "adanns-budget search"));
    ASSIGN_OR_RETURN(const uint32_t mean_rule, UintParam(search, "mean_rule", 0, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t oracle, UintParam(search, "oracle", 0, 0, 1));
    if (oracle == 1 && !oracle_.has_value()) {
      return absl::InvalidArgumentError("adanns-budget search: oracle needs the build's oracle_k");
    }
    ASSIGN_OR_RETURN(
        const uint32_t seed,
        UintParam(search, "seed", 0, 0, static_cast<uint32_t>(calibrations_.size() - 1)));
    planning_ = oracle == 1 ? &*oracle_ : mean_rule == 1 ? &by_mean_[seed] : &calibrations_[seed];
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
  std::vector<index::Calibration> calibrations_;  // one per seed
  std::vector<index::Calibration> by_mean_;       // the same without standard errors
  std::optional<index::Calibration> oracle_;      // calibrated on the test queries
  const index::Calibration* planning_ = nullptr;
  std::vector<uint32_t> nesting_;
  index::Budget budget_;
};

class AdannsBudgetMethod : public Method {
 public:
  std::string name() const override { return "adanns-budget"; }

  Grid DefaultGrid(const BenchData& /*data*/) const override {
    Grid grid;
    // Held-out calibration (the server's after a build), the reservoir (its later ones, here
    // test-like queries the run does not measure) and self-queries, ten seeds each; k = 10.
    for (const uint32_t calibration : {kHeldOutSource, kReservoirSource, kSelfSource}) {
      grid.builds.push_back({{"ivf", 1},
                             {"hnsw", 1},
                             {"calibration", static_cast<double>(calibration)},
                             {"seeds", kDefaultSeeds},
                             {"calibration_k", 10},
                             {"calibration_queries", 200},
                             {"oracle_k", 10}});
    }
    for (const double target : {0.8, 0.9, 0.95, 0.99}) {
      for (uint32_t seed = 0; seed < kDefaultSeeds; ++seed) {
        for (const double mean_rule : {0, 1}) {
          grid.searches.push_back(
              {{"target_recall", target}, {"seed", seed}, {"mean_rule", mean_rule}});
        }
      }
      grid.searches.push_back({{"target_recall", target}, {"oracle", 1}});
    }
    for (const double mflops : {0.05, 0.1, 0.2, 0.5, 1.0}) {
      grid.searches.push_back({{"max_mflops", mflops}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build,
                                   {"ivf", "hnsw", "default_graph", "calibration_queries",
                                    "oracle_k", "calibration", "seeds", "calibration_k"},
                                   "adanns-budget build"));
    ASSIGN_OR_RETURN(const uint32_t source, UintParam(build, "calibration", 1, 0, 2));
    const bool held_out_mode = source == kHeldOutSource;
    ASSIGN_OR_RETURN(const uint32_t seeds, UintParam(build, "seeds", 1, 1, 100));
    ASSIGN_OR_RETURN(const uint32_t calibration_k, UintParam(build, "calibration_k", 0, 0, 100));
    ASSIGN_OR_RETURN(const uint32_t default_graph, UintParam(build, "default_graph", 0, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t oracle_k, UintParam(build, "oracle_k", 10, 0, 100));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    ASSIGN_OR_RETURN(const uint32_t with_ivf, UintParam(build, "ivf", 1, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t with_hnsw, UintParam(build, "hnsw", 1, 0, 1));
    ASSIGN_OR_RETURN(const uint32_t queries,
                     UintParam(build, "calibration_queries", 200, 1, 10000));
    std::unique_ptr<index::VectorTable> table = MakeBaseTable(data);
    omp_set_num_threads(std::max(1, threads));
    // The rows set aside: seeds disjoint shares of seeds x queries rows (a seeded shuffle).
    index::HeldOutRows held_out;
    std::vector<index::HeldOutRows> shares;
    if (source == kReservoirSource && data.spare_queries.rows < uint64_t{seeds} * queries) {
      return absl::InvalidArgumentError(
          absl::StrCat("adanns-budget build: calibration=2 needs ", uint64_t{seeds} * queries,
                       " spare queries (the data file's queries after --queries); it has ",
                       data.spare_queries.rows));
    }
    if (held_out_mode) {
      held_out = index::SampleLiveRows(*table, size_t{seeds} * queries, kHeldOutSeed);
      std::vector<index::RowId> rows(held_out.rows().begin(), held_out.rows().end());
      std::mt19937_64 rng(kHeldOutSeed);
      std::shuffle(rows.begin(), rows.end(), rng);
      for (uint32_t s = 0; s < seeds; ++s) {
        const size_t begin = rows.size() * s / seeds, end = rows.size() * (s + 1) / seeds;
        shares.emplace_back(std::vector<index::RowId>(rows.begin() + begin, rows.begin() + end));
      }
    }
    const index::TableAccess access =
        [&](const std::function<void(const index::VectorTable&)>& read) { read(*table); };
    std::vector<std::unique_ptr<index::ServedIndex>> indexes;
    stats->bytes_per_vector["full_vectors"] = dim * sizeof(float);
    if (with_ivf == 1) {
      index::IvfBuildParams params;
      params.nlist = DefaultIvfNlist(data.base.rows);
      params.coarse_dims = std::min(dim, 32u);
      params.search_dims = std::min(dim, 64u);
      ASSIGN_OR_RETURN(auto ivf, index::IvfIndex::Build(access, data.metric, params, nullptr,
                                                        nullptr, held_out));
      stats->bytes_per_vector["ivf"] =
          static_cast<double>(ivf->memory_bytes()) / static_cast<double>(data.base.rows);
      indexes.push_back(std::move(ivf));
    }
    if (default_graph == 1) {
      index::HnswBuildParams params;
      params.graph_dims = index::DefaultGraphDims(dim, DefaultNesting(dim));
      index::GraphChoice choice;
      ASSIGN_OR_RETURN(auto graph, index::BuildDefaultGraph(access, data.metric, params, threads,
                                                            nullptr, nullptr, &choice, held_out));
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
      ASSIGN_OR_RETURN(auto graph, index::HnswIndex::Build(access, data.metric, params, threads,
                                                           nullptr, nullptr, held_out));
      stats->bytes_per_vector["hnsw"] =
          static_cast<double>(graph->memory_bytes()) / static_cast<double>(data.base.rows);
      indexes.push_back(std::move(graph));
    }
    std::vector<const index::ServedIndex*> ready;
    for (const auto& served : indexes) ready.push_back(served.get());
    const std::vector<uint32_t> nesting = DefaultNesting(dim);
    const index::CollectionShape shape{dim, nesting, table->size(), data.metric};
    const auto start = std::chrono::steady_clock::now();
    std::vector<index::Calibration> calibrations;
    for (uint32_t s = 0; s < seeds; ++s) {
      index::CalibrationOptions options;
      options.queries = queries;
      options.seed = kCalibrationSeed + s;
      if (calibration_k > 0) options.ks = {calibration_k};
      if (source == kReservoirSource) {
        const size_t floats = size_t{queries} * dim;
        options.queries_given =
            std::span<const float>(data.spare_queries.values).subspan(size_t{s} * floats, floats);
        options.given_source = index::CalibrationSource::kReservoir;
      }
      if (!held_out_mode) {
        ASSIGN_OR_RETURN(index::Calibration measured,
                         index::Calibrate(*table, data.metric, ready, shape, options));
        calibrations.push_back(index::MergedFrontier(measured));
        continue;
      }
      // As the server: the flat plans on sampled stored vectors, the indexes on held-out rows.
      ASSIGN_OR_RETURN(index::Calibration flat,
                       index::Calibrate(*table, data.metric, {}, shape, options));
      options.flat_plans = false;
      options.held_out = &held_out;
      options.query_rows = &shares[s];
      ASSIGN_OR_RETURN(index::Calibration indexed,
                       index::Calibrate(*table, data.metric, ready, shape, options));
      calibrations.push_back(index::MergedFrontier(
          index::Replaced(indexed, flat, [](const index::Plan&) { return false; })));
    }
    // The calibration sweeps are reported as the "training" part of the build.
    stats->train_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Then the held-out rows join the indexes, as after a server build.
    for (const auto& served : indexes) {
      for (const index::RowId row : held_out.rows()) served->Upsert(*table, row);
    }
    std::optional<index::Calibration> oracle;
    if (oracle_k > 0) {
      index::CalibrationOptions on_test;
      on_test.queries_given = data.queries.values;
      on_test.ks = {oracle_k};
      ASSIGN_OR_RETURN(const index::Calibration measured,
                       index::Calibrate(*table, data.metric, ready, shape, on_test));
      oracle = index::MergedFrontier(measured);
    }
    return std::make_unique<BudgetIndex>(std::move(table), data.metric, std::move(indexes),
                                         std::move(calibrations), std::move(oracle));
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
                           {"calibration", 1},
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
