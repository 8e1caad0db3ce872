// `funnel`: the MRL adaptive-retrieval funnel with our kernels: an exact shortlist of
// rerank_candidates on a short prefix, then an exact re-rank at rerank_dims (default: full dims).
#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/vector_table_index.h"

namespace adanns::bench {
namespace {

class FunnelMethod : public Method {
 public:
  std::string name() const override { return "funnel"; }

  // 12 points. A 128-dim shortlist adds nothing on 784-dim Fashion-MNIST-PCA (64 dims already
  // reach recall 0.999 for less) and would cost a minute of a 10-minute run.
  Grid DefaultGrid(const BenchData& data) const override {
    const auto dim = static_cast<double>(data.base.cols);
    const auto rows = static_cast<double>(data.base.rows);
    Grid grid;
    grid.builds = {Params{}};
    for (const double dims : {16.0, 32.0, 64.0}) {
      if (dims >= dim) continue;  // a shortlist at full dims is just flat
      for (const double candidates : {50.0, 100.0, 200.0, 400.0}) {
        if (candidates > rows) continue;
        grid.searches.push_back({{"search_dims", dims}, {"rerank_candidates", candidates}});
      }
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build, {}, "funnel build"));
    return BuildVectorTableIndex(data, /*rerank=*/true, stats);
  }
};

ADANNS_REGISTER_METHOD("funnel", FunnelMethod);

}  // namespace
}  // namespace adanns::bench
