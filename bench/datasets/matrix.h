// The matrices bench/ passes around are the readers' (client/readers/npy_reader.h), so data that
// is prepared here and data loaded back from .npy files share one type.
#pragma once

#include <cstdint>

#include "client/readers/npy_reader.h"

namespace adanns::bench {

template <typename T>
using Matrix = readers::Matrix<T>;
using FloatMatrix = Matrix<float>;
using Int32Matrix = Matrix<int32_t>;

// A rows x cols matrix of zeros.
template <typename T>
Matrix<T> ZeroMatrix(uint64_t rows, uint64_t cols) {
  Matrix<T> matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  matrix.values.assign(rows * cols, T{});
  return matrix;
}

}  // namespace adanns::bench
