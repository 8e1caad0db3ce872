// Quantised memory tiers served end to end on Fashion-MNIST-PCA: the first 64 of 784 dims held
// as fp16 or int8. Scans score the decoded prefix and every re-rank reads the exact vectors from
// RocksDB, so the automatic funnel gives what the same funnel over exact fp32 prefixes gives
// (computed here, independently of the server): the same ids with fp16, recall within 1% with
// int8. The table holds 2 or 1 bytes a value; fp16's range is enforced; an IVF builds and serves
// on the decoded prefix; a restart (int8: its persisted parameters) gives the same answers.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "index/prefix_codec.h"
#include "storage/rocks_store.h"
#include "tests/integration/fmnist_server_fixture.h"

namespace adanns::testing {
namespace {

constexpr uint32_t kResident = 64;
constexpr uint64_t kBase = 60000;
constexpr size_t kQueries = 300;  // of the prepared queries, for the reference computation

class QuantisedTierTest : public FmnistServerTest {
 protected:
  static void Start(const std::string& precision) {
    StartWithData(
        {"--build_threads=2", "--auto_calibrate=false"},
        "--resident-dims " + std::to_string(kResident) + " --resident-precision " + precision);
  }

  static double L2(const float* a, const float* b, uint32_t dims) {
    double sum = 0;
    for (uint32_t j = 0; j < dims; ++j) sum += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
    return sum;
  }

  // The funnel over exact fp32 prefixes: the `candidates` nearest at kResident dims, re-ranked
  // at the full dim; the kK best ids.
  static std::vector<uint64_t> ReferenceFunnel(size_t q, size_t candidates) {
    const float* query = queries_->row(q);
    std::vector<std::pair<double, uint64_t>> prefix(kBase);
    for (uint64_t id = 0; id < kBase; ++id) {
      prefix[id] = {L2(query, base_->row(id), kResident), id};
    }
    std::partial_sort(prefix.begin(), prefix.begin() + candidates, prefix.end());
    std::vector<std::pair<double, uint64_t>> full;
    for (size_t i = 0; i < candidates; ++i) {
      full.emplace_back(L2(query, base_->row(prefix[i].second), kDim), prefix[i].second);
    }
    std::sort(full.begin(), full.end());
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < kK; ++i) ids.push_back(full[i].second);
    return ids;
  }

  static double RecallOf(const std::vector<std::vector<uint64_t>>& ids) {
    double hits = 0;
    for (size_t q = 0; q < ids.size(); ++q) {
      const std::set<int64_t> truth(truth_->row(q), truth_->row(q) + kK);
      for (const uint64_t id : ids[q]) hits += truth.count(static_cast<int64_t>(id));
    }
    return hits / (static_cast<double>(ids.size()) * kK);
  }

  static std::vector<std::vector<uint64_t>> IdsOf(const v1::SearchBatchResponse& response) {
    std::vector<std::vector<uint64_t>> ids(response.results_size());
    for (int q = 0; q < response.results_size(); ++q) {
      for (const v1::Hit& hit : response.results(q).hits()) ids[q].push_back(hit.id());
    }
    return ids;
  }

  // Server's automatic funnel against the fp32 reference funnel of the same depth: the number of
  // result ids that differ, and both recalls against the full-dim ground truth.
  struct Comparison {
    size_t differing_ids = 0;
    double recall = 0;
    double reference_recall = 0;
  };
  static Comparison CompareAutomaticFunnel(const std::string& label) {
    const v1::SearchBatchResponse response = SearchAll(nullptr, kQueries);
    EXPECT_EQ(response.results_size(), int(kQueries));
    Comparison comparison;
    if (response.results_size() != int(kQueries)) return comparison;
    const v1::SearchResponse& first = response.results(0);
    EXPECT_EQ(first.plan().index(), "flat");
    EXPECT_EQ(first.plan().search_dims(), kResident);
    EXPECT_EQ(first.plan().rerank_dims(), kDim);
    EXPECT_EQ(first.cost().vectors_fetched(), first.plan().rerank_candidates());
    const std::vector<std::vector<uint64_t>> served = IdsOf(response);
    std::vector<std::vector<uint64_t>> reference(kQueries);
    for (size_t q = 0; q < kQueries; ++q) {
      reference[q] = ReferenceFunnel(q, first.plan().rerank_candidates());
      for (size_t i = 0; i < kK; ++i) {
        comparison.differing_ids += i >= served[q].size() || served[q][i] != reference[q][i];
      }
    }
    comparison.recall = RecallOf(served);
    comparison.reference_recall = RecallOf(reference);
    std::cout << "[tiered " << label << "] funnel d=64 R=" << first.plan().rerank_candidates()
              << " recall@10=" << comparison.recall
              << " (fp32 prefixes: " << comparison.reference_recall
              << "), ids differing from the fp32 funnel: " << comparison.differing_ids << " of "
              << kQueries * kK << "\n";
    return comparison;
  }

  // Restart the server: the same answers to the automatic plan, the same table bytes.
  // `while_stopped` inspects the data directory between the two runs.
  static void ExpectRestartKeepsAnswers(const std::function<void()>& while_stopped = {}) {
    const v1::SearchBatchResponse before = SearchAll(nullptr, kQueries);
    const uint64_t bytes_before = Describe().vector_memory_bytes();
    ASSERT_EQ(server_->Stop(), 0);
    if (while_stopped) while_stopped();
    delete server_;
    server_ = new ServerProcess(dir_->path() + "/data", {"--auto_calibrate=false"});
    EXPECT_EQ(Describe().vector_memory_bytes(), bytes_before);
    EXPECT_EQ(IdsOf(SearchAll(nullptr, kQueries)), IdsOf(before));
  }
};

class Float16TierTest : public QuantisedTierTest {
 protected:
  static void SetUpTestSuite() { Start("fp16"); }
};

class Int8TierTest : public QuantisedTierTest {
 protected:
  static void SetUpTestSuite() { Start("int8"); }
};

TEST_F(Float16TierTest, HoldsTwoBytesAValueAndFindsTheFp32FunnelsIds) {
  const v1::CollectionInfo info = Describe();
  EXPECT_EQ(info.storage().resident_precision(), v1::PRECISION_FP16);
  EXPECT_EQ(info.vector_memory_bytes(), kBase * kResident * 2);
  EXPECT_NE(Cli("collection describe fmnist").find("first 64 of 784 dims, fp16"),
            std::string::npos);
  const Comparison comparison = CompareAutomaticFunnel("fp16");
  EXPECT_EQ(comparison.differing_ids, 0u);
  EXPECT_EQ(comparison.recall, comparison.reference_recall);
}

TEST_F(Float16TierTest, RefusesValuesOutsideFp16AndBuildsAnIvfOnTheDecodedPrefix) {
  std::vector<float> vector(queries_->row(3), queries_->row(3) + kDim);
  vector[10] = 70000.0f;  // in the resident prefix
  const grpc::Status refused = Upsert(900001, vector.data());
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("65504"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("index 10"), std::string::npos) << refused.error_message();
  // Past the prefix the value is only stored (exact, fp32), never held as fp16.
  vector[10] = queries_->row(3)[10];
  vector[700] = 70000.0f;
  ASSERT_TRUE(Upsert(900002, vector.data()).ok());
  EXPECT_EQ(Describe().vector_count(), kBase + 1);

  v1::BuildIndexResponse started;
  ASSERT_TRUE(StartIvfBuild(&started).ok());
  ASSERT_EQ(WaitForBuild(), "ready");
  const v1::SearchBatchResponse ivf = SearchIvf(16, 100);
  const double recall = Recall(ivf);
  std::cout << "[tiered fp16] ivf d_c=32 d_s=64 nprobe=16 R=100 recall@10=" << recall << "\n";
  EXPECT_GE(recall, 0.98);
  EXPECT_GE(ivf.results(0).cost().vectors_fetched(), 100u);
  // Its lists hold fp16 prefixes: less than fp32 copies of the prefixes alone would take.
  const v1::CollectionInfo info = Describe();
  const v1::IndexInfo* index = FindIndex(info, "ivf");
  ASSERT_NE(index, nullptr);
  std::cout << "[tiered fp16] ivf memory " << index->memory_bytes() / double(kBase)
            << " B/vector\n";
  EXPECT_LT(index->memory_bytes(), kBase * kResident * sizeof(float));
  // After the build: resident prefixes, the index, the cache and a constant (the fixture's).
  const uint64_t rss = ServerRss();
  std::cout << "[tiered fp16] RSS after the build " << rss / 1e6 << " MB (bound "
            << MemoryBound(info) / 1e6 << " MB)\n";
  EXPECT_LE(rss, MemoryBound(info));
  ExpectRestartKeepsAnswers();
}

TEST_F(Int8TierTest, HoldsOneByteAValueWithinOnePercentOfTheFp32FunnelsRecall) {
  const v1::CollectionInfo info = Describe();
  EXPECT_EQ(info.storage().resident_precision(), v1::PRECISION_INT8);
  EXPECT_EQ(info.vector_memory_bytes(), kBase * kResident);
  const Comparison comparison = CompareAutomaticFunnel("int8");
  EXPECT_GE(comparison.recall, 0.99 * comparison.reference_recall);
}

TEST_F(Int8TierTest, ARestartEncodesWithThePersistedParameters) {
  ExpectRestartKeepsAnswers([] {
    // The learned parameters are in the store, one (offset, scale) per resident dim.
    auto store = storage::RocksStore::Open(dir_->path() + "/data");
    ASSERT_TRUE(store.ok()) << store.status();
    auto collections = (*store)->ListCollections();
    ASSERT_TRUE(collections.ok() && collections->size() == 1);
    auto blob = (*store)->GetIndexBlob(collections->front().id, "resident_int8");
    ASSERT_TRUE(blob.ok() && blob->has_value());
    const absl::StatusOr<index::Int8Params> params = index::DeserializeInt8Params(**blob);
    ASSERT_TRUE(params.ok()) << params.status();
    EXPECT_EQ(params->dims(), kResident);
  });
}

}  // namespace
}  // namespace adanns::testing
