// `flat`: our exact scan (index::FlatSearch) at a prefix of the vectors, no re-rank; the sweep
// shows what each nested prefix alone recovers of the full-dim neighbours.
#include <algorithm>

#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/vector_table_index.h"

namespace adanns::bench {
namespace {

class FlatMethod : public Method {
 public:
  std::string name() const override { return "flat"; }

  Grid DefaultGrid(const BenchData& data) const override {
    const auto dim = static_cast<double>(data.base.cols);
    Grid grid;
    grid.builds = {Params{}};
    for (const double dims : {dim, 512.0, 256.0, 128.0, 64.0, 32.0}) {
      const bool seen = std::any_of(grid.searches.begin(), grid.searches.end(),
                                    [&](const Params& p) { return p.at("search_dims") == dims; });
      if (dims <= dim && !seen) grid.searches.push_back({{"search_dims", dims}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build, {}, "flat build"));
    return BuildVectorTableIndex(data, /*rerank=*/false, stats);
  }
};

ADANNS_REGISTER_METHOD("flat", FlatMethod);

}  // namespace
}  // namespace adanns::bench
