// AdANNS-HNSW on seeded clustered data: an exhaustive beam is exact, default plans find most
// neighbours, the cost model, writes after the build, serialization (with writes made after the
// blob reconciled at load) and corruption, plan validation, cancellation, an empty start.
#include "index/hnsw_index.h"

#include <iostream>
#include <set>

#include "gtest/gtest.h"
#include "index/flat_search.h"
#include "tests/index/clustered_data.h"

namespace adanns::index {
namespace {

constexpr uint32_t kDim = 32;
constexpr uint32_t kGraphDims = 12;
constexpr size_t kVectors = 3000;

constexpr HnswBuildParams kParams{.graph_dims = kGraphDims, .m = 12, .ef_construction = 80};

class HnswIndexTest : public testing::TestWithParam<Metric> {
 protected:
  void SetUp() override {
    queries_ = FillClustered(table_, kVectors, 20).queries;
    // One thread: a deterministic graph (parallel inserts interleave differently every run).
    auto built = HnswIndex::Build(table_, GetParam(), kParams, /*threads=*/1);
    ASSERT_TRUE(built.ok()) << built.status();
    graph_ = std::move(*built);
  }

  static std::vector<uint64_t> Ids(const SearchResult& result) {
    std::vector<uint64_t> ids;
    for (const Hit& h : result.hits) ids.push_back(h.id);
    return ids;
  }

  SearchResult Run(const HnswIndex& graph, const std::vector<float>& query, Plan plan,
                   uint32_t k = 10) {
    absl::StatusOr<Plan> resolved = graph.ResolvePlan(plan, k);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    return graph.Search(table_, query, k, *resolved);
  }
  SearchResult Run(const std::vector<float>& query, Plan plan, uint32_t k = 10) {
    return Run(*graph_, query, plan, k);
  }

  SearchResult RunExact(const std::vector<float>& query, uint32_t k = 10) {
    return FlatSearch(table_, GetParam(), query, k, *ResolveFlatPlan({}, kDim, k));
  }

  // A vector whose best match under the metric is `query` (itself for L2, a long vector along it
  // for inner product and cosine).
  std::vector<float> BestMatchOf(const std::vector<float>& query) const {
    std::vector<float> v = query;
    if (GetParam() != Metric::kL2) {
      for (float& x : v) x *= 10.0f;
    }
    return v;
  }

  VectorTable table_{kDim};
  std::vector<std::vector<float>> queries_;
  std::unique_ptr<HnswIndex> graph_;
};

TEST_P(HnswIndexTest, ExhaustiveBeamWithFullRerankIsExact) {
  Plan plan;
  plan.ef = kVectors;
  plan.rerank_candidates = kVectors;
  for (const auto& query : queries_) {
    const SearchResult result = Run(query, plan);
    const std::vector<uint64_t> exact = Ids(RunExact(query));
    if (GetParam() == Metric::kInnerProduct) {
      // Not a metric: a node the graph cannot reach may be an answer (rarely).
      const std::set<uint64_t> truth(exact.begin(), exact.end());
      size_t found = 0;
      for (uint64_t id : Ids(result)) found += truth.count(id);
      EXPECT_GE(found, 9u);
    } else {
      EXPECT_EQ(Ids(result), exact);
    }
    // Cost model: distance computations at graph_dims, then every candidate at the full dim
    // (a raw table row: cosine takes the dot product and the norm, 2 per dim).
    const double scan_mflops = double(result.cost.vectors_scanned) * kGraphDims / 1e6;
    const double rerank_per_row = GetParam() == Metric::kCosine ? 2.0 * kDim : kDim;
    if (GetParam() == Metric::kInnerProduct) {
      // Inner product is no metric: the graph never reaches some small-norm vectors (never the
      // answer), so fewer than all candidates exist.
      EXPECT_GT(result.cost.mflops, scan_mflops);
      EXPECT_LE(result.cost.mflops, scan_mflops + double(kVectors) * rerank_per_row / 1e6);
    } else {
      EXPECT_GE(result.cost.vectors_scanned, kVectors);
      EXPECT_DOUBLE_EQ(result.cost.mflops, scan_mflops + double(kVectors) * rerank_per_row / 1e6);
    }
  }
}

TEST_P(HnswIndexTest, DefaultPlanFindsMostNeighboursCheaply) {
  double hits = 0;
  for (const auto& query : queries_) {
    const auto exact = Ids(RunExact(query));
    const std::set<uint64_t> truth(exact.begin(), exact.end());
    const SearchResult result = Run(query, Plan{});
    EXPECT_EQ(*result.plan.ef, 64u);
    EXPECT_EQ(*result.plan.rerank_candidates, 64u);
    EXPECT_EQ(*result.plan.rerank_dims, kDim);
    EXPECT_LT(result.cost.vectors_scanned, kVectors / 2);
    for (uint64_t id : Ids(result)) hits += truth.count(id);
  }
  EXPECT_GE(hits / (10.0 * queries_.size()), 0.95);
}

TEST_P(HnswIndexTest, ParallelBuildKeepsQuality) {
  auto built = HnswIndex::Build(table_, GetParam(), kParams, /*threads=*/2);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ((*built)->stats().nodes, kVectors);
  double hits = 0;
  for (const auto& query : queries_) {
    const auto exact = Ids(RunExact(query));
    const std::set<uint64_t> truth(exact.begin(), exact.end());
    for (uint64_t id : Ids(Run(**built, query, Plan{}))) hits += truth.count(id);
  }
  EXPECT_GE(hits / (10.0 * queries_.size()), 0.95);
}

TEST_P(HnswIndexTest, WritesAfterTheBuild) {
  Plan plan;
  plan.ef = 32;
  const RowId added = table_.Upsert(99999, BestMatchOf(queries_[3]));
  graph_->Upsert(table_, added);
  EXPECT_EQ(Run(queries_[3], plan).hits[0].id, 99999u);
  // Moved: found at its new vector, not at its old one.
  const RowId moved = table_.Upsert(99999, BestMatchOf(queries_[7]));
  graph_->Upsert(table_, moved);
  EXPECT_EQ(Run(queries_[7], plan).hits[0].id, 99999u);
  EXPECT_NE(Run(queries_[3], plan).hits[0].id, 99999u);
  // Removed: never returned, even when the beam holds everything.
  const uint64_t victim = Run(queries_[1], plan).hits[0].id;
  graph_->Remove(*table_.RowOf(victim), victim);
  table_.Remove(victim);
  Plan wide;
  wide.ef = kVectors;
  for (uint64_t id : Ids(Run(queries_[1], wide, 100))) EXPECT_NE(id, victim);
  EXPECT_EQ(graph_->stats().deleted, 1u);
  // Re-inserted under the same id: found again.
  const RowId back = table_.Upsert(victim, BestMatchOf(queries_[1]));
  graph_->Upsert(table_, back);
  EXPECT_EQ(Run(queries_[1], plan).hits[0].id, victim);
  EXPECT_EQ(graph_->stats().deleted, 0u);
}

TEST_P(HnswIndexTest, NewIdsTakeOverDeletedNodesAfterHeavyDeletes) {
  // 95% deleted, then new ids: each takes over a deleted node, so the graph does not grow (and
  // hnswlib's new-node path, which can fail when a layer search reaches only deleted nodes, is
  // not taken).
  std::vector<uint64_t> ids;
  for (RowId row = 0; row < table_.row_count(); ++row) {
    if (table_.IsLive(row)) ids.push_back(table_.IdOf(row));
  }
  size_t removed = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i % 20 == 0) continue;
    graph_->Remove(*table_.RowOf(ids[i]), ids[i]);
    table_.Remove(ids[i]);
    ++removed;
  }
  const uint64_t nodes = graph_->stats().nodes;
  ASSERT_EQ(graph_->stats().deleted, removed);
  constexpr uint64_t kNew = 500;
  for (uint64_t i = 0; i < kNew; ++i) {
    std::vector<float> v = BestMatchOf(queries_[i % queries_.size()]);
    v[i % kDim] += 0.01f * float(i);  // distinct vectors
    graph_->Upsert(table_, table_.Upsert(1'000'000 + i, v));
  }
  EXPECT_EQ(graph_->stats().nodes, nodes);
  EXPECT_EQ(graph_->stats().deleted, removed - kNew);
  // Still a working graph: an exhaustive beam with full re-rank finds the exact answers, the new
  // vectors among them, and no deleted id.
  Plan plan;
  plan.ef = kVectors;
  plan.rerank_candidates = kVectors;
  for (const auto& query : queries_) {
    const std::vector<uint64_t> exact = Ids(RunExact(query));
    const std::vector<uint64_t> found = Ids(Run(query, plan));
    if (GetParam() == Metric::kInnerProduct) {
      const std::set<uint64_t> truth(exact.begin(), exact.end());
      size_t shared = 0;
      for (uint64_t id : found) shared += truth.count(id);
      EXPECT_GE(shared, 9u);
    } else {
      EXPECT_EQ(found, exact);
    }
    for (uint64_t id : found) EXPECT_TRUE(table_.RowOf(id).has_value()) << id;
  }
}

TEST_P(HnswIndexTest, SerializationReconcilesLaterWritesAndRejectsCorruption) {
  absl::StatusOr<std::string> blob = graph_->Serialize();
  ASSERT_TRUE(blob.ok()) << blob.status();
  Plan plan;
  plan.ef = 40;
  {
    auto loaded = HnswIndex::Deserialize(*blob, table_, GetParam());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    for (const auto& query : queries_) {
      EXPECT_EQ(Ids(Run(**loaded, query, plan)), Ids(Run(query, plan)));
    }
  }
  // Writes after the blob: a new id, a moved id, a deleted id. The loaded graph has them all.
  table_.Upsert(424242, BestMatchOf(queries_[2]));
  const uint64_t moved = Run(queries_[4], plan).hits[0].id;
  table_.Upsert(moved, BestMatchOf(queries_[5]));
  const uint64_t deleted = Run(queries_[6], plan).hits[0].id;
  table_.Remove(deleted);
  auto loaded = HnswIndex::Deserialize(*blob, table_, GetParam());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Run(**loaded, queries_[2], plan).hits[0].id, 424242u);
  EXPECT_EQ(Run(**loaded, queries_[5], plan).hits[0].id, moved);
  for (uint64_t id : Ids(Run(**loaded, queries_[6], plan, 50))) EXPECT_NE(id, deleted);

  std::string flipped = *blob;
  flipped[blob->size() / 2] ^= 0x40;
  EXPECT_EQ(HnswIndex::Deserialize(flipped, table_, GetParam()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      HnswIndex::Deserialize(blob->substr(0, blob->size() - 9), table_, GetParam()).status().code(),
      absl::StatusCode::kDataLoss);
  const Metric other = GetParam() == Metric::kL2 ? Metric::kCosine : Metric::kL2;
  EXPECT_EQ(HnswIndex::Deserialize(*blob, table_, other).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_P(HnswIndexTest, InvalidPlansAndBuilds) {
  auto code = [&](const Plan& plan, uint32_t k = 10) {
    return graph_->ResolvePlan(plan, k).status().code();
  };
  Plan plan;
  plan.nprobe = 4;
  EXPECT_EQ(code(plan), absl::StatusCode::kInvalidArgument);
  plan = {};
  plan.search_dims = kGraphDims + 1;
  EXPECT_EQ(code(plan), absl::StatusCode::kInvalidArgument);
  plan = {};
  plan.rerank_dims = kGraphDims - 1;
  EXPECT_EQ(code(plan), absl::StatusCode::kInvalidArgument);
  plan = {};
  plan.ef = 0;
  EXPECT_EQ(code(plan), absl::StatusCode::kInvalidArgument);
  plan = {};
  plan.rerank_candidates = 5;  // below k
  EXPECT_EQ(code(plan), absl::StatusCode::kInvalidArgument);
  // ef is raised to the re-rank depth and to k.
  plan = {};
  plan.ef = 8;
  plan.rerank_candidates = 120;
  EXPECT_EQ(*graph_->ResolvePlan(plan, 10)->ef, 120u);
  EXPECT_EQ(*graph_->ResolvePlan(Plan{.ef = 8}, 100)->ef, 100u);

  HnswBuildParams bad;
  bad.graph_dims = kDim + 1;
  EXPECT_EQ(HnswIndex::Build(table_, GetParam(), bad, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = {};
  bad.m = 1;
  EXPECT_EQ(HnswIndex::Build(table_, GetParam(), bad, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::atomic<bool> cancel{true};
  auto access = [this](const std::function<void(const VectorTable&)>& read) { read(table_); };
  EXPECT_EQ(HnswIndex::Build(access, GetParam(), {}, 1, nullptr, &cancel).status().code(),
            absl::StatusCode::kCancelled);

  const HnswBuildParams params{.graph_dims = 24, .m = 8, .ef_construction = 50, .seed = 7};
  const absl::StatusOr<HnswBuildParams> decoded =
      DecodeHnswBuildParams(EncodeHnswBuildParams(params));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->graph_dims, 24u);
  EXPECT_EQ(decoded->seed, 7u);
  EXPECT_EQ(DecodeHnswBuildParams("junk").status().code(), absl::StatusCode::kDataLoss);
}

TEST_P(HnswIndexTest, EmptyGraphGrowsByInserts) {
  VectorTable empty(kDim);
  auto built = HnswIndex::Build(empty, GetParam(), {}, 1);
  ASSERT_TRUE(built.ok()) << built.status();
  HnswIndex& graph = **built;
  EXPECT_TRUE(graph.Search(empty, queries_[0], 10, *graph.ResolvePlan({}, 10)).hits.empty());
  for (uint64_t id = 0; id < 2000; ++id) {  // past the initial capacity: the graph resizes
    graph.Upsert(empty, empty.Upsert(id, std::span<const float>(
                                             table_.RowData(static_cast<RowId>(id)), kDim)));
  }
  EXPECT_EQ(graph.stats().nodes, 2000u);
  const SearchResult result = graph.Search(empty, queries_[0], 10, *graph.ResolvePlan({}, 10));
  EXPECT_EQ(result.hits.size(), 10u);
}

// Inserts split as the server's absorber runs them: the beam search (PrepareUpsert) apart from the
// linking (ApplyUpsert). The graph they make finds neighbours as well as whole inserts do.
TEST_P(HnswIndexTest, PreparedInsertsFindNeighboursAsWholeInsertsDo) {
  constexpr size_t kBuilt = kVectors / 2;
  auto half_table = [&] {
    auto table = std::make_unique<VectorTable>(kDim);
    for (size_t r = 0; r < kBuilt; ++r) {
      table->Upsert(table_.IdOf(static_cast<RowId>(r)),
                    {table_.RowData(static_cast<RowId>(r)), kDim});
    }
    return table;
  };
  std::unique_ptr<VectorTable> split_table = half_table(), whole_table = half_table();
  auto split = HnswIndex::Build(*split_table, GetParam(), kParams, 1);
  auto whole = HnswIndex::Build(*whole_table, GetParam(), kParams, 1);
  ASSERT_TRUE(split.ok() && whole.ok());
  size_t prepared = 0;
  for (size_t r = kBuilt; r < kVectors; ++r) {
    const std::span<const float> values(table_.RowData(static_cast<RowId>(r)), kDim);
    const uint64_t id = table_.IdOf(static_cast<RowId>(r));
    const RowId split_row = split_table->Upsert(id, values);
    while ((*split)->UpkeepStep()) {
    }
    std::unique_ptr<PreparedUpsert> work = (*split)->PrepareUpsertOfRow(*split_table, split_row);
    prepared += work != nullptr;
    (*split)->ApplyUpsert(*split_table, split_row, std::move(work));
    (*whole)->Upsert(*whole_table, whole_table->Upsert(id, values));
  }
  EXPECT_EQ(prepared, kVectors - kBuilt);  // no deletions: every insert took the split path
  EXPECT_EQ((*split)->stats().nodes, kVectors);
  // It outgrew the capacity of its build: the bigger copy was made in upkeep steps.
  EXPECT_GE((*split)->stats().growths_swapped_in, 1u);
  EXPECT_EQ((*split)->stats().growths_in_hold, 0u);
  EXPECT_GE((*whole)->stats().growths_in_hold, 1u);
  auto recall = [&](const HnswIndex& graph, const VectorTable& table) {
    size_t found = 0;
    for (const auto& query : queries_) {
      const std::vector<uint64_t> exact = Ids(RunExact(query));
      const std::set<uint64_t> truth(exact.begin(), exact.end());
      for (uint64_t id : Ids(graph.Search(table, query, 10, *graph.ResolvePlan({}, 10)))) {
        found += truth.count(id);
      }
    }
    return double(found) / double(queries_.size() * 10);
  };
  const double whole_recall = recall(**whole, *whole_table);
  EXPECT_GE(recall(**split, *split_table), whole_recall - 0.05) << "whole: " << whole_recall;
}

// Between PrepareUpsert and ApplyUpsert the server may delete ids (the graph's only other
// writer): a neighbour found by the prepared search may be deleted by the time the node links.
TEST_P(HnswIndexTest, PreparedInsertToleratesDeletesBeforeItLinks) {
  const RowId row = table_.Upsert(1'000'000, BestMatchOf(queries_[0]));
  std::unique_ptr<PreparedUpsert> work = graph_->PrepareUpsertOfRow(table_, row);
  ASSERT_NE(work, nullptr);
  for (const uint64_t id : Ids(RunExact(queries_[0], 5))) {
    if (id == 1'000'000) continue;
    graph_->Remove(*table_.RowOf(id), id);
    table_.Remove(id);
  }
  graph_->ApplyUpsert(table_, row, std::move(work));
  const SearchResult result = Run(queries_[0], {});
  ASSERT_FALSE(result.hits.empty());
  EXPECT_EQ(result.hits[0].id, 1'000'000u);
  // With deleted nodes present the next insert is not split: Apply does all of it.
  const RowId next = table_.Upsert(1'000'001, BestMatchOf(queries_[1]));
  EXPECT_EQ(graph_->PrepareUpsertOfRow(table_, next), nullptr);
  graph_->ApplyUpsert(table_, next, nullptr);
  EXPECT_EQ(Run(queries_[1], {}).hits[0].id, 1'000'001u);
}

// A growth copies the graph in steps; ids deleted between steps stay deleted once it is in.
TEST_P(HnswIndexTest, GrowthKeepsDeletesMadeWhileItCopies) {
  uint64_t next_id = 1'000'000;
  bool deleted = false;
  std::set<uint64_t> gone;
  while (graph_->stats().growths_swapped_in == 0) {
    ASSERT_LT(next_id, 1'010'000u) << "the graph never grew";
    const bool more = graph_->UpkeepStep();
    if (graph_->stats().growing && !deleted) {  // nodes the copy already holds change now
      for (RowId row = 0; row < 20; ++row) {
        const uint64_t id = table_.IdOf(row);
        gone.insert(id);
        graph_->Remove(row, id);
        table_.Remove(id);
      }
      deleted = true;
    }
    if (more) continue;
    const RowId row = table_.Upsert(next_id, queries_[next_id % queries_.size()]);
    ++next_id;
    graph_->ApplyUpsert(table_, row, graph_->PrepareUpsertOfRow(table_, row));
  }
  EXPECT_TRUE(deleted);
  EXPECT_EQ(graph_->stats().growths_in_hold, 0u);
  // The insert that swapped the growth in took one deleted node over for its new id.
  EXPECT_EQ(graph_->stats().deleted, 19u);
  Plan plan;
  plan.ef = kVectors;
  for (const auto& query : queries_) {
    for (const Hit& hit : Run(query, plan).hits) EXPECT_EQ(gone.count(hit.id), 0u) << hit.id;
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, HnswIndexTest,
                         testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const testing::TestParamInfo<Metric>& param_info) {
                           return std::string(MetricName(param_info.param));
                         });

}  // namespace
}  // namespace adanns::index
