#include "client/readers/npy_reader.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::readers {
namespace {

struct OpenedMatrix {
  BinaryInputFile file;
  NpyDtype dtype;
  uint64_t rows;
  uint64_t cols;
};

absl::StatusOr<OpenedMatrix> OpenMatrix(const std::string& path,
                                        std::initializer_list<NpyDtype> accepted) {
  ASSIGN_OR_RETURN(BinaryInputFile file, BinaryInputFile::Open(path));
  ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(file));
  ASSIGN_OR_RETURN(NpyDtype dtype, ValidateNpyMatrix(header, file, accepted));
  return OpenedMatrix{std::move(file), dtype, header.shape[0], header.shape[1]};
}

absl::Status CheckFitsInMemory(const std::string& path, uint64_t rows, uint64_t cols) {
  // Header validation bounds rows * cols * item size by the file size, so this cannot overflow.
  if (rows * cols > std::numeric_limits<size_t>::max() / sizeof(int64_t)) {
    return absl::ResourceExhaustedError(absl::StrCat(path, " is too large to load whole"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NpyReader>> NpyReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(OpenedMatrix matrix, OpenMatrix(path, {NpyDtype::kFloat32, NpyDtype::kFloat16}));
  if (matrix.cols == 0 || matrix.cols > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has rows of ", matrix.cols, " values: expected 1 to 2^32-1"));
  }
  return std::unique_ptr<NpyReader>(new NpyReader(std::move(matrix.file), matrix.dtype, matrix.rows,
                                                  static_cast<uint32_t>(matrix.cols)));
}

absl::StatusOr<size_t> NpyReader::Read(size_t max_rows, float* out) {
  const size_t count = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - rows_read_));
  if (count == 0) {
    return 0;
  }
  const size_t values = count * dim_;
  const std::string what = absl::StrCat("rows ", rows_read_, "..", rows_read_ + count - 1);
  if (dtype_ == NpyDtype::kFloat32) {
    RETURN_IF_ERROR(file_.ReadExact(out, values * sizeof(float), what));
  } else {
    half_buffer_.resize(values);
    RETURN_IF_ERROR(file_.ReadExact(half_buffer_.data(), values * sizeof(uint16_t), what));
    std::transform(half_buffer_.begin(), half_buffer_.end(), out, HalfToFloat);
  }
  rows_read_ += count;
  return count;
}

absl::StatusOr<Matrix<float>> ReadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<NpyReader> reader, NpyReader::Open(path));
  RETURN_IF_ERROR(CheckFitsInMemory(path, reader->rows(), reader->dim()));
  Matrix<float> matrix;
  matrix.rows = reader->rows();
  matrix.cols = reader->dim();
  matrix.values.resize(matrix.rows * matrix.cols);
  RETURN_IF_ERROR(reader->Read(matrix.rows, matrix.values.data()).status());
  return matrix;
}

absl::StatusOr<Matrix<int32_t>> ReadNpyInt32(const std::string& path) {
  ASSIGN_OR_RETURN(OpenedMatrix opened, OpenMatrix(path, {NpyDtype::kInt32, NpyDtype::kInt64}));
  RETURN_IF_ERROR(CheckFitsInMemory(path, opened.rows, opened.cols));
  Matrix<int32_t> matrix;
  matrix.rows = opened.rows;
  matrix.cols = opened.cols;
  const size_t values = matrix.rows * matrix.cols;
  matrix.values.resize(values);
  if (opened.dtype == NpyDtype::kInt32) {
    RETURN_IF_ERROR(opened.file.ReadExact(matrix.values.data(), values * sizeof(int32_t), "data"));
    return matrix;
  }
  std::vector<int64_t> wide(values);
  RETURN_IF_ERROR(opened.file.ReadExact(wide.data(), values * sizeof(int64_t), "data"));
  for (size_t i = 0; i < values; ++i) {
    if (wide[i] < std::numeric_limits<int32_t>::min() ||
        wide[i] > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": value ", wide[i], " at row ",
                                                     i / matrix.cols, " does not fit in int32"));
    }
    matrix.values[i] = static_cast<int32_t>(wide[i]);
  }
  return matrix;
}

}  // namespace adanns::readers
