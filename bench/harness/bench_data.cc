#include "bench/harness/bench_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/datasets/prepared_dataset.h"
#include "bench/harness/hdf5_int_matrix.h"
#include "client/readers/hdf5_reader.h"

namespace adanns::bench {
namespace {

// ann-benchmarks' distance names; "cosine" is accepted as a synonym of "angular".
absl::StatusOr<Metric> MetricFromDistance(const std::string& distance, const std::string& where) {
  if (distance == "euclidean") return Metric::kL2;
  if (distance == "angular" || distance == "cosine") return Metric::kCosine;
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": distance '", distance, "' is not supported (euclidean or angular)"));
}

// The string value of a top-level "key": "value" pair of a small JSON text (info.json); enough
// for the two fields we need without a JSON library.
std::optional<std::string> JsonStringField(const std::string& text, const std::string& key) {
  size_t at = text.find(absl::StrCat("\"", key, "\""));
  if (at == std::string::npos) return std::nullopt;
  at = text.find_first_not_of(" \t\r\n", at + key.size() + 2);
  if (at == std::string::npos || text[at] != ':') return std::nullopt;
  at = text.find_first_not_of(" \t\r\n", at + 1);
  if (at == std::string::npos || text[at] != '"') return std::nullopt;
  std::string value;
  for (++at; at < text.size() && text[at] != '"'; ++at) {
    if (text[at] == '\\' && at + 1 < text.size()) ++at;
    value += text[at];
  }
  if (at >= text.size()) return std::nullopt;
  return value;
}

absl::StatusOr<BenchData> LoadPrepared(const std::string& dir) {
  ASSIGN_OR_RETURN(PreparedDataset prepared, ReadPreparedDataset(dir, /*with_groundtruth=*/true));
  BenchData data;
  data.name = prepared.name;
  data.base = std::move(prepared.base);
  data.queries = std::move(prepared.queries);
  data.groundtruth = std::move(prepared.groundtruth);
  const std::string info_path = (std::filesystem::path(dir) / "info.json").string();
  std::ifstream info(info_path);
  if (info) {
    std::stringstream text;
    text << info.rdbuf();
    if (auto name = JsonStringField(text.str(), "dataset"); name && !name->empty()) {
      data.name = *name;
    }
    if (auto distance = JsonStringField(text.str(), "distance")) {
      ASSIGN_OR_RETURN(data.metric, MetricFromDistance(*distance, info_path));
    }
  }
  return data;
}

absl::StatusOr<FloatMatrix> ReadHdf5Floats(const std::string& path, const std::string& dataset,
                                           size_t max_rows) {
  ASSIGN_OR_RETURN(std::unique_ptr<readers::Hdf5Reader> reader,
                   readers::Hdf5Reader::Open(path, dataset));
  const uint64_t rows =
      max_rows == 0 ? reader->rows() : std::min<uint64_t>(max_rows, reader->rows());
  FloatMatrix matrix = ZeroMatrix<float>(rows, reader->dim());
  uint64_t done = 0;
  while (done < rows) {
    ASSIGN_OR_RETURN(const size_t read,
                     reader->Read(rows - done, matrix.values.data() + done * matrix.cols));
    if (read == 0) break;
    done += read;
  }
  if (done != rows) {
    return absl::DataLossError(absl::StrCat(path, ": '", dataset, "' ended after ", done, " rows"));
  }
  return matrix;
}

absl::StatusOr<BenchData> LoadHdf5(const std::string& path, size_t max_queries) {
  BenchData data;
  data.name = std::filesystem::path(path).stem().string();
  ASSIGN_OR_RETURN(const std::string distance, readers::ReadHdf5Distance(path));
  ASSIGN_OR_RETURN(data.metric, MetricFromDistance(distance, path));
  ASSIGN_OR_RETURN(data.base, ReadHdf5Floats(path, "train", 0));
  ASSIGN_OR_RETURN(data.queries, ReadHdf5Floats(path, "test", max_queries));
  ASSIGN_OR_RETURN(data.groundtruth, ReadHdf5Int32Matrix(path, "neighbors"));
  if (data.queries.cols != data.base.cols) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": 'train' has ", data.base.cols, " dims, 'test' ", data.queries.cols));
  }
  return data;
}

// Keeps the first `rows` rows.
template <typename T>
void KeepRows(Matrix<T>& matrix, uint64_t rows) {
  matrix.rows = std::min(matrix.rows, rows);
  matrix.values.resize(matrix.rows * matrix.cols);
}

absl::Status CheckGroundTruth(const BenchData& data, const std::string& path) {
  if (data.base.rows == 0 || data.queries.rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no base vectors or no queries"));
  }
  if (data.groundtruth.rows < data.queries.rows || data.groundtruth.cols == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ground truth has ", data.groundtruth.rows, " rows x ",
                     data.groundtruth.cols, " for ", data.queries.rows, " queries"));
  }
  for (const int32_t id : data.groundtruth.values) {
    if (id < 0 || static_cast<uint64_t>(id) >= data.base.rows) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ground truth names row ", id, " of ", data.base.rows));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BenchData> LoadBenchData(const std::string& path, size_t max_queries) {
  BenchData data;
  if (std::filesystem::is_directory(path)) {
    ASSIGN_OR_RETURN(data, LoadPrepared(path));
  } else {
    const std::string extension = std::filesystem::path(path).extension().string();
    if (extension != ".hdf5" && extension != ".h5") {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is neither a prepared folder nor an ann-benchmarks .hdf5/.h5 file"));
    }
    ASSIGN_OR_RETURN(data, LoadHdf5(path, max_queries));
  }
  if (max_queries > 0 && data.queries.rows > max_queries) {
    const uint64_t cols = data.queries.cols;
    const uint64_t spare = std::min<uint64_t>(data.queries.rows - max_queries, kMaxSpareQueries);
    data.spare_queries.rows = spare;
    data.spare_queries.cols = cols;
    const auto first =
        data.queries.values.begin() + static_cast<std::ptrdiff_t>(max_queries * cols);
    data.spare_queries.values.assign(first, first + static_cast<std::ptrdiff_t>(spare * cols));
  }
  if (max_queries > 0) KeepRows(data.queries, max_queries);
  KeepRows(data.groundtruth, data.queries.rows);
  RETURN_IF_ERROR(CheckGroundTruth(data, path));
  return data;
}

}  // namespace adanns::bench
