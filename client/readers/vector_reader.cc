#include "client/readers/vector_reader.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "client/readers/fvecs_reader.h"
#include "client/readers/hdf5_reader.h"
#include "client/readers/npy_reader.h"

namespace adanns::readers {
namespace {

std::string FormatFromExtension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".npy") {
    return "npy";
  }
  if (extension == ".fvecs") {
    return "fvecs";
  }
  if (extension == ".hdf5" || extension == ".h5") {
    return "hdf5";
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<VectorReader>> OpenVectorFile(const std::string& path,
                                                             const ReaderOptions& options) {
  const std::string format = options.format.empty() ? FormatFromExtension(path) : options.format;
  if (format == "npy") {
    return NpyReader::Open(path);
  }
  if (format == "fvecs") {
    return FvecsReader::Open(path);
  }
  if (format == "hdf5") {
    return Hdf5Reader::Open(path, options.dataset);
  }
  if (options.format.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot tell the format of ", path,
                     " from its extension: expected .npy, .fvecs, .hdf5 or .h5"));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown vector file format '", options.format,
                                                 "': expected npy, fvecs or hdf5"));
}

}  // namespace adanns::readers
