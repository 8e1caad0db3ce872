// The default graph: the prefix rule, and a build that measures a prefix graph against a full-dim
// one and keeps the one its own numbers favour.
#include "index/default_graph.h"

#include "gtest/gtest.h"
#include "tests/index/clustered_data.h"

namespace adanns::index {
namespace {

TEST(DefaultGraphTest, PrefixIsTheShortestNestingDimOfAtLeastAQuarter) {
  const std::vector<uint32_t> fmnist = {8, 16, 32, 64, 128, 256, 512, 784};
  EXPECT_EQ(DefaultGraphDims(784, fmnist), 256u);
  EXPECT_EQ(DefaultGraphDims(1024, std::vector<uint32_t>{64, 128, 256, 512, 1024}), 256u);
  EXPECT_EQ(DefaultGraphDims(64, std::vector<uint32_t>{8, 16, 32, 64}), 32u);
  // Never below 32 dims; the full dim when no nesting prefix qualifies.
  EXPECT_EQ(DefaultGraphDims(96, std::vector<uint32_t>{8, 16, 24, 48, 96}), 48u);
  EXPECT_EQ(DefaultGraphDims(32, std::vector<uint32_t>{8, 16, 32}), 32u);
  EXPECT_EQ(DefaultGraphDims(300, std::vector<uint32_t>{}), 300u);
}

TEST(DefaultGraphTest, KeepsTheGraphItsMeasurementsFavour) {
  VectorTable table(64);
  FillClustered(table, 3000, 0);
  const TableAccess access = [&](const std::function<void(const VectorTable&)>& read) {
    read(table);
  };
  HnswBuildParams params;
  params.graph_dims = 32;
  params.m = 8;
  params.ef_construction = 60;
  std::vector<double> progress;
  GraphChoice choice;
  absl::StatusOr<std::unique_ptr<HnswIndex>> graph = BuildDefaultGraph(
      access, Metric::kL2, params, 1, [&](double f) { progress.push_back(f); }, nullptr, &choice);
  ASSERT_TRUE(graph.ok()) << graph.status();
  std::cout << "[default graph] 32-dim: " << choice.prefix_latency_us << " us at "
            << choice.prefix_recall << "; 64-dim: " << choice.full_latency_us << " us at "
            << choice.full_recall << "; kept " << choice.chosen_dims << "\n";
  EXPECT_EQ(choice.prefix_dims, 32u);
  EXPECT_GT(choice.full_latency_us, 0);
  EXPECT_GT(choice.prefix_recall, 0);
  ASSERT_TRUE(choice.chosen_dims == 32u || choice.chosen_dims == 64u);
  EXPECT_EQ((*graph)->stats().graph_dims, choice.chosen_dims);
  const bool prefix_reaches = choice.prefix_recall >= kDefaultGraphTargetRecall;
  const bool full_reaches = choice.full_recall >= kDefaultGraphTargetRecall;
  const bool prefix_wins = prefix_reaches
                               ? !full_reaches || choice.prefix_latency_us <= choice.full_latency_us
                               : !full_reaches && choice.prefix_recall >= choice.full_recall;
  EXPECT_EQ(choice.chosen_dims, prefix_wins ? 32u : 64u);
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_LE(progress.back(), 1.0);

  // A prefix as long as the collection builds one graph, with nothing to compare.
  params.graph_dims = 64;
  graph = BuildDefaultGraph(access, Metric::kL2, params, 1, nullptr, nullptr, &choice);
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(choice.chosen_dims, 64u);
  EXPECT_EQ(choice.full_latency_us, 0);
}

}  // namespace
}  // namespace adanns::index
