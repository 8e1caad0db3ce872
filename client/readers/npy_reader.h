// Reading .npy matrices: a streaming VectorReader for float32/float16 files of any size, and
// whole-file loaders for small float32 (queries) and int32 (ground truth) arrays.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/readers/binary_file.h"
#include "client/readers/npy_format.h"
#include "client/readers/vector_reader.h"

namespace adanns::readers {

// Streams a 2-D C-order '<f4' or '<f2' array; float16 is widened to float32 exactly.
class NpyReader : public VectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<NpyReader>> Open(const std::string& path);

  uint64_t rows() const override { return rows_; }
  uint32_t dim() const override { return dim_; }
  uint64_t rows_read() const override { return rows_read_; }
  absl::StatusOr<size_t> Read(size_t max_rows, float* out) override;

 private:
  NpyReader(BinaryInputFile file, NpyDtype dtype, uint64_t rows, uint32_t dim)
      : file_(std::move(file)), dtype_(dtype), rows_(rows), dim_(dim) {}

  BinaryInputFile file_;
  NpyDtype dtype_;
  uint64_t rows_;
  uint32_t dim_;
  uint64_t rows_read_ = 0;
  std::vector<uint16_t> half_buffer_;  // float16 rows before widening
};

// A whole row-major matrix in memory.
template <typename T>
struct Matrix {
  uint64_t rows = 0;
  uint64_t cols = 0;
  std::vector<T> values;  // rows * cols, row-major

  const T* row(uint64_t index) const { return values.data() + index * cols; }
};

// Loads a 2-D '<f4' or '<f2' array.
absl::StatusOr<Matrix<float>> ReadNpy(const std::string& path);
// Loads a 2-D '<i4' array, or an '<i8' one whose values all fit in int32 (numpy's default
// integer type, e.g. from argsort).
absl::StatusOr<Matrix<int32_t>> ReadNpyInt32(const std::string& path);

}  // namespace adanns::readers
