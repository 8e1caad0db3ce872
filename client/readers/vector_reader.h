// Streaming access to large files of vectors (.npy, .fvecs, ann-benchmarks .hdf5/.h5), so that
// ingest and benchmarks read them in bounded chunks instead of loading them whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace adanns::readers {

struct ReaderOptions {
  // HDF5 only: dataset to read ("train", "test", ...).
  // Default: "train".
  std::string dataset = "train";
  // File format: "npy", "fvecs" or "hdf5"; empty means "from the file extension".
  // Default: "".
  std::string format;
};

// A matrix of float32 rows read front to back. Not thread-safe.
class VectorReader {
 public:
  virtual ~VectorReader() = default;

  // Number of rows in the file.
  virtual uint64_t rows() const = 0;
  // Floats per row.
  virtual uint32_t dim() const = 0;
  // Rows returned by Read() so far.
  virtual uint64_t rows_read() const = 0;

  // Reads the next min(max_rows, rows() - rows_read()) rows into `out` (row-major, room for
  // max_rows * dim() floats) and returns how many were read; 0 at the end.
  virtual absl::StatusOr<size_t> Read(size_t max_rows, float* out) = 0;
};

// Opens `path` with the reader its format needs (see ReaderOptions::format). NOT_FOUND when the
// file (or HDF5 dataset) is missing, INVALID_ARGUMENT for unknown formats and malformed files.
absl::StatusOr<std::unique_ptr<VectorReader>> OpenVectorFile(const std::string& path,
                                                             const ReaderOptions& options = {});

}  // namespace adanns::readers
