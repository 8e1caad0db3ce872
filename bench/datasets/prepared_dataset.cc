#include "bench/datasets/prepared_dataset.h"

#include <cstdio>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "client/readers/binary_file.h"
#include "client/readers/json_writer.h"
#include "client/readers/npy_writer.h"

namespace adanns::bench {
namespace {

using readers::JsonString;

std::string InfoJson(const PreparedDataset& dataset) {
  std::string sources;
  for (const std::string& file : dataset.source_files) {
    absl::StrAppend(&sources, sources.empty() ? "" : ", ", JsonString(file));
  }
  return absl::StrCat("{\n  \"dataset\": ", JsonString(dataset.name),
                      ",\n  \"distance\": ", JsonString(dataset.distance),
                      ",\n  \"n\": ", dataset.base.rows, ",\n  \"dim\": ", dataset.base.cols,
                      ",\n  \"queries\": ", dataset.queries.rows,
                      ",\n  \"gt_k\": ", dataset.groundtruth.cols,
                      ",\n  \"files\": {\"base\": \"base.npy\", \"queries\": \"queries.npy\", "
                      "\"groundtruth\": \"groundtruth.npy\"}",
                      ",\n  \"source_files\": [", sources, "]",
                      ",\n  \"transform\": ", JsonString(dataset.transform), "\n}\n");
}

std::string PathIn(const std::string& dir, std::string_view file) {
  return (std::filesystem::path(dir) / file).string();
}

}  // namespace

absl::Status WritePreparedDataset(const PreparedDataset& dataset, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output folder ", dir, ": ", error.message()));
  }
  RETURN_IF_ERROR(readers::WriteNpy(PathIn(dir, "base.npy"), dataset.base.rows, dataset.base.cols,
                                    dataset.base.values.data()));
  RETURN_IF_ERROR(readers::WriteNpy(PathIn(dir, "queries.npy"), dataset.queries.rows,
                                    dataset.queries.cols, dataset.queries.values.data()));
  RETURN_IF_ERROR(readers::WriteNpyInt32(PathIn(dir, "groundtruth.npy"), dataset.groundtruth.rows,
                                         dataset.groundtruth.cols,
                                         dataset.groundtruth.values.data()));
  ASSIGN_OR_RETURN(readers::BinaryOutputFile info,
                   readers::BinaryOutputFile::Create(PathIn(dir, "info.json")));
  const std::string json = InfoJson(dataset);
  RETURN_IF_ERROR(info.Write(json.data(), json.size()));
  return info.Close();
}

absl::StatusOr<PreparedDataset> ReadPreparedDataset(const std::string& dir, bool with_groundtruth) {
  PreparedDataset dataset;
  dataset.name = std::filesystem::path(dir).filename().string();
  ASSIGN_OR_RETURN(dataset.base, readers::ReadNpy(PathIn(dir, "base.npy")));
  ASSIGN_OR_RETURN(dataset.queries, readers::ReadNpy(PathIn(dir, "queries.npy")));
  if (dataset.queries.cols != dataset.base.cols) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": base.npy has ", dataset.base.cols,
                                                   " dims, queries.npy ", dataset.queries.cols));
  }
  if (with_groundtruth) {
    ASSIGN_OR_RETURN(dataset.groundtruth, readers::ReadNpyInt32(PathIn(dir, "groundtruth.npy")));
    if (dataset.groundtruth.rows != dataset.queries.rows) {
      return absl::InvalidArgumentError(absl::StrCat(dir, ": groundtruth.npy has ",
                                                     dataset.groundtruth.rows, " rows for ",
                                                     dataset.queries.rows, " queries"));
    }
    for (const int32_t id : dataset.groundtruth.values) {
      if (id < 0 || static_cast<uint64_t>(id) >= dataset.base.rows) {
        return absl::InvalidArgumentError(
            absl::StrCat(dir, ": groundtruth.npy names row ", id, " of ", dataset.base.rows));
      }
    }
  }
  return dataset;
}

}  // namespace adanns::bench
