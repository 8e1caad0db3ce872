#include "bench/run_command.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/datasets/ground_truth.h"
#include "bench/datasets/prepared_dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/bench/harness/ann_hdf5_file.h"
#include "tests/common/temp_dir.h"

namespace adanns::bench {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

FloatMatrix RandomMatrix(uint64_t rows, uint32_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  FloatMatrix matrix = ZeroMatrix<float>(rows, cols);
  for (float& v : matrix.values) v = normal(rng);
  return matrix;
}

void Normalize(FloatMatrix& matrix) {
  for (uint64_t i = 0; i < matrix.rows; ++i) {
    float* row = matrix.values.data() + i * matrix.cols;
    double norm = 0;
    for (uint64_t j = 0; j < matrix.cols; ++j) norm += static_cast<double>(row[j]) * row[j];
    for (uint64_t j = 0; j < matrix.cols; ++j)
      row[j] = static_cast<float>(row[j] / std::sqrt(norm));
  }
}

// 2000 x 32 Gaussian rows, 50 queries, exact top-20 (L2 on unit rows when `angular`, which
// orders like cosine).
PreparedDataset TinyDataset(bool angular) {
  PreparedDataset dataset;
  dataset.name = angular ? "tiny-angular" : "tiny";
  dataset.distance = angular ? "angular" : "euclidean";
  dataset.base = RandomMatrix(2000, 32, 1);
  dataset.queries = RandomMatrix(50, 32, 2);
  if (angular) {
    Normalize(dataset.base);
    Normalize(dataset.queries);
  }
  absl::StatusOr<GroundTruth> truth = ExactL2GroundTruth(dataset.base, dataset.queries, 20);
  EXPECT_TRUE(truth.ok()) << truth.status();
  dataset.groundtruth = truth->neighbors;
  return dataset;
}

// The CSV rows as maps column -> text.
std::vector<std::map<std::string, std::string>> ReadCsv(const std::string& path) {
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::string> header;
  const std::vector<std::string> lines = absl::StrSplit(Slurp(path), '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (header.empty()) {
      header = fields;
      continue;
    }
    std::map<std::string, std::string>& row = rows.emplace_back();
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
  }
  return rows;
}

double Number(const std::string& text) {
  double value = 0;
  EXPECT_TRUE(absl::SimpleAtod(text, &value)) << text;
  return value;
}

bool HaveGnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

TEST(RunCommandTest, EndToEndOnATinySet) {
  testing::TempDir dir;
  ASSERT_TRUE(WritePreparedDataset(TinyDataset(false), dir.path() + "/data").ok());
  RunArgs args;
  args.data = dir.path() + "/data";
  args.methods = "flat, funnel,faiss-flat";
  args.json_out = dir.path() + "/out.json";
  args.csv_out = dir.path() + "/out.csv";
  if (HaveGnuplot()) args.plot_out = dir.path() + "/out.png";
  args.queries = 50;
  args.allow_dirty = true;  // a development tree may have uncommitted changes
  ASSERT_EQ(RunBenchCommand(args), 0);

  const std::vector<std::map<std::string, std::string>> rows = ReadCsv(args.csv_out);
  // flat at 32 dims, funnel at 16 dims x 4 shortlists, faiss-flat.
  ASSERT_EQ(rows.size(), 6u);
  std::map<std::string, double> recall;
  for (const auto& row : rows) {
    recall[row.at("method") + " " + row.at("params")] = Number(row.at("recall"));
    EXPECT_EQ(row.at("queries"), "50");
    EXPECT_GT(Number(row.at("qps")), 0);
  }
  EXPECT_GE(recall.at("flat search_dims=32"), 0.999);
  EXPECT_GE(recall.at("faiss-flat "), 0.999);
  EXPECT_GE(recall.at("funnel rerank_candidates=400 search_dims=16"),
            recall.at("funnel rerank_candidates=50 search_dims=16"));

  const std::string json = Slurp(args.json_out);
  EXPECT_THAT(json, HasSubstr("\"dataset\": \"tiny\""));
  EXPECT_THAT(json, HasSubstr("\"mflops_per_query\": 0.064"));  // 2000 rows x 32 dims
  EXPECT_THAT(json, HasSubstr("\"vectors_scanned_per_query\": 2000"));
  EXPECT_THAT(Slurp(args.json_out + ".table.txt"), HasSubstr("vs faiss-flat"));
  if (!args.plot_out.empty()) {
    EXPECT_FALSE(Slurp(args.plot_out).empty());
  }
}

// ann-benchmarks HDF5 with distance = angular: cosine in our methods, normalised IP in FAISS.
TEST(RunCommandTest, AngularHdf5) {
  testing::TempDir dir;
  const PreparedDataset dataset = TinyDataset(true);
  const std::string path = dir.path() + "/tiny-angular.hdf5";
  // Scaled rows: the harness itself must normalise for cosine.
  FloatMatrix train = dataset.base;
  for (size_t i = 0; i < train.values.size(); ++i) {
    train.values[i] *= 1.0f + static_cast<float>(i / 32 % 7);
  }
  WriteAnnBenchmarksHdf5(path, "angular", train, dataset.queries, dataset.groundtruth);

  RunArgs args;
  args.data = path;
  args.methods = "flat,faiss-flat";
  args.json_out = dir.path() + "/out.json";
  args.csv_out = dir.path() + "/out.csv";
  args.allow_dirty = true;
  ASSERT_EQ(RunBenchCommand(args), 0);
  const auto rows = ReadCsv(args.csv_out);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) EXPECT_GE(Number(row.at("recall")), 0.999) << row.at("method");
  EXPECT_THAT(Slurp(args.json_out), HasSubstr("\"metric\": \"cosine\""));
}

TEST(RunCommandTest, GridFileAndBadInput) {
  testing::TempDir dir;
  ASSERT_TRUE(WritePreparedDataset(TinyDataset(false), dir.path() + "/data").ok());
  std::ofstream(dir.path() + "/grid.txt") << "flat search search_dims=8,16  # two points\n";
  RunArgs args;
  args.data = dir.path() + "/data";
  args.methods = "flat";
  args.json_out = dir.path() + "/out.json";
  args.csv_out = dir.path() + "/out.csv";
  args.grid_file = dir.path() + "/grid.txt";
  args.queries = 10;
  args.allow_dirty = true;
  ASSERT_EQ(RunBenchCommand(args), 0);
  EXPECT_EQ(ReadCsv(args.csv_out).size(), 2u);

  ::testing::internal::CaptureStderr();
  args.methods = "flat,nope";
  EXPECT_EQ(RunBenchCommand(args), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("unknown method 'nope' (known: "));

  std::ofstream(dir.path() + "/grid.txt") << "flat search search_dims=8\nflat search k=x\n";
  args.methods = "flat";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunBenchCommand(args), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("grid.txt:2: k: 'x'"));

  args.grid_file.clear();
  args.k = 21;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunBenchCommand(args), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("--k 21 must be in 1..20"));
}

TEST(CheckCleanTreeTest, ADirtyOrUnknownTreeIsRefusedUnlessAllowed) {
  EXPECT_TRUE(CheckCleanTree("abc1234", false).ok());
  for (const std::string commit : {"abc1234-dirty", "unknown", ""}) {
    const absl::Status refused = CheckCleanTree(commit, false);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << commit;
    EXPECT_THAT(std::string(refused.message()), HasSubstr("--allow-dirty"));
    EXPECT_TRUE(CheckCleanTree(commit, true).ok());
  }
}

}  // namespace
}  // namespace adanns::bench
