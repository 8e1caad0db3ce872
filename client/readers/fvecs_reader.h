// Streaming reader for the TEXMEX .fvecs format (per row: int32 dim, then dim float32), used by
// SIFT/GIST-style datasets. All rows must share the first row's dim.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/readers/binary_file.h"
#include "client/readers/vector_reader.h"

namespace adanns::readers {

class FvecsReader : public VectorReader {
 public:
  // Reads the first row's dim and checks the file length is a whole number of rows. A row whose
  // dim differs is reported by Read() when it is reached.
  static absl::StatusOr<std::unique_ptr<FvecsReader>> Open(const std::string& path);

  uint64_t rows() const override { return rows_; }
  uint32_t dim() const override { return dim_; }
  uint64_t rows_read() const override { return rows_read_; }
  absl::StatusOr<size_t> Read(size_t max_rows, float* out) override;

 private:
  FvecsReader(BinaryInputFile file, uint64_t rows, uint32_t dim)
      : file_(std::move(file)), rows_(rows), dim_(dim) {}

  BinaryInputFile file_;
  uint64_t rows_;
  uint32_t dim_;
  uint64_t rows_read_ = 0;
  std::vector<char> buffer_;  // raw rows, dim prefixes included
};

}  // namespace adanns::readers
