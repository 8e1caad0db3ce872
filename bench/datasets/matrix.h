// A dense row-major matrix of one element type: the in-memory form of base vectors, queries and
// ground-truth tables in bench/ (the same layout as the .npy files they are written to).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace adanns::bench {

template <typename T>
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<T> values;  // values[i * cols + j]

  Matrix() = default;
  Matrix(size_t num_rows, size_t num_cols)
      : rows(num_rows), cols(num_cols), values(num_rows * num_cols) {}

  std::span<const T> row(size_t i) const { return {values.data() + i * cols, cols}; }
  std::span<T> row(size_t i) { return {values.data() + i * cols, cols}; }
};

using FloatMatrix = Matrix<float>;
using Int32Matrix = Matrix<int32_t>;

}  // namespace adanns::bench
