// The drift check: queries drawn like the calibration's raise no alarm, shifted ones do, growth by
// a fifth does; the reference round-trips through its blob and a damaged one is refused.
#include "index/query_drift.h"

#include <random>

#include "gtest/gtest.h"
#include "tests/index/clustered_data.h"

namespace adanns::index {
namespace {

constexpr uint32_t kDim = 32;

std::vector<float> Flatten(const std::vector<std::vector<float>>& rows, float shift = 0) {
  std::vector<float> out;
  for (const auto& row : rows) {
    for (const float x : row) out.push_back(x + shift);
  }
  return out;
}

std::vector<double> Scores(const DriftReference& reference, const std::vector<float>& queries) {
  std::vector<double> scores;
  for (size_t q = 0; q + kDim <= queries.size(); q += kDim) {
    scores.push_back(reference.NearestAnchor({queries.data() + q, kDim}));
  }
  return scores;
}

TEST(QueryDriftTest, SameDistributionIsQuietShiftedQueriesAndGrowthAreNot) {
  VectorTable table(kDim);
  const ClusteredSet set = FillClustered(table, 3000, 600);
  const std::vector<std::vector<float>> first(set.queries.begin(), set.queries.begin() + 300);
  const std::vector<std::vector<float>> second(set.queries.begin() + 300, set.queries.end());
  const DriftReference reference = MakeDriftReference(table, Metric::kL2, Flatten(first), 3);
  EXPECT_EQ(reference.queries, 300u);
  EXPECT_EQ(reference.anchors.size(), size_t{kDriftAnchors} * kDim);  // a 32-dim prefix: all
  EXPECT_EQ(reference.vectors, 3000u);
  // Fresh queries from the same clusters: no alarm.
  EXPECT_FALSE(RecalibrationReason(reference, 3000, Scores(reference, Flatten(second))));
  // The same queries moved away from the data: drift.
  const std::optional<std::string> drift =
      RecalibrationReason(reference, 3000, Scores(reference, Flatten(second, 1.5f)));
  ASSERT_TRUE(drift.has_value());
  EXPECT_NE(drift->find("drifted"), std::string::npos) << *drift;
  // Growth: a fifth more rows is due, less is not.
  EXPECT_FALSE(RecalibrationReason(reference, 3500, {}));
  const std::optional<std::string> grown = RecalibrationReason(reference, 3700, {});
  ASSERT_TRUE(grown.has_value());
  EXPECT_NE(grown->find("grew"), std::string::npos) << *grown;
}

TEST(QueryDriftTest, BlobRoundTripsAndDamageIsRefused) {
  VectorTable table(kDim);
  const ClusteredSet set = FillClustered(table, 500, 50);
  const DriftReference reference =
      MakeDriftReference(table, Metric::kCosine, Flatten(set.queries), 1);
  const std::string blob = SerializeDriftReference(reference);
  absl::StatusOr<DriftReference> read = DeserializeDriftReference(blob);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->prefix, reference.prefix);
  EXPECT_EQ(read->metric, Metric::kCosine);
  EXPECT_EQ(read->anchors, reference.anchors);
  EXPECT_EQ(read->mean, reference.mean);
  EXPECT_EQ(read->sd, reference.sd);
  EXPECT_EQ(read->queries, reference.queries);
  EXPECT_EQ(read->vectors, reference.vectors);
  std::string damaged = blob;
  damaged[damaged.size() / 2] ^= 4;
  EXPECT_EQ(DeserializeDriftReference(damaged).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DeserializeDriftReference("").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace adanns::index
