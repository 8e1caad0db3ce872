#include "client/readers/npy_writer.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::readers {
namespace {

// float16 rows are converted through a bounded buffer.
constexpr size_t kHalfBufferValues = 1 << 16;

}  // namespace

absl::StatusOr<NpyWriter> NpyWriter::Create(const std::string& path, NpyDtype dtype,
                                            uint64_t cols) {
  if (dtype == NpyDtype::kInt64) {
    return absl::InvalidArgumentError("NpyWriter writes float32, float16 or int32, not int64");
  }
  ASSIGN_OR_RETURN(BinaryOutputFile file, BinaryOutputFile::Create(path));
  // Placeholder with 0 rows; the header length does not depend on the count.
  const std::string header = FormatNpyHeader(dtype, 0, cols);
  RETURN_IF_ERROR(file.Write(header.data(), header.size()));
  return NpyWriter(std::move(file), dtype, cols);
}

absl::Status NpyWriter::CheckDtype(bool floats) const {
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat(file_.path(), " is already closed"));
  }
  const bool is_float = dtype_ == NpyDtype::kFloat32 || dtype_ == NpyDtype::kFloat16;
  if (floats != is_float) {
    return absl::InvalidArgumentError(absl::StrCat("cannot append ", floats ? "floats" : "int32",
                                                   " rows to ", file_.path(), " of dtype '",
                                                   NpyDescr(dtype_), "'"));
  }
  return absl::OkStatus();
}

absl::Status NpyWriter::AppendRows(const float* rows, uint64_t count) {
  RETURN_IF_ERROR(CheckDtype(/*floats=*/true));
  const uint64_t values = count * cols_;
  if (dtype_ == NpyDtype::kFloat32) {
    RETURN_IF_ERROR(file_.Write(rows, values * sizeof(float)));
  } else {
    std::vector<uint16_t> halves(std::min<uint64_t>(values, kHalfBufferValues));
    for (uint64_t start = 0; start < values; start += halves.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(halves.size(), values - start));
      std::transform(rows + start, rows + start + n, halves.begin(), FloatToHalf);
      RETURN_IF_ERROR(file_.Write(halves.data(), n * sizeof(uint16_t)));
    }
  }
  rows_written_ += count;
  return absl::OkStatus();
}

absl::Status NpyWriter::AppendRows(const int32_t* rows, uint64_t count) {
  RETURN_IF_ERROR(CheckDtype(/*floats=*/false));
  RETURN_IF_ERROR(file_.Write(rows, count * cols_ * sizeof(int32_t)));
  rows_written_ += count;
  return absl::OkStatus();
}

absl::Status NpyWriter::Close() {
  if (closed_) {
    return absl::OkStatus();
  }
  closed_ = true;
  const std::string header = FormatNpyHeader(dtype_, rows_written_, cols_);
  RETURN_IF_ERROR(file_.Seek(0));
  RETURN_IF_ERROR(file_.Write(header.data(), header.size()));
  return file_.Close();
}

absl::Status WriteNpy(const std::string& path, uint64_t rows, uint64_t cols, const float* values) {
  ASSIGN_OR_RETURN(NpyWriter writer, NpyWriter::Create(path, NpyDtype::kFloat32, cols));
  RETURN_IF_ERROR(writer.AppendRows(values, rows));
  return writer.Close();
}

absl::Status WriteNpyInt32(const std::string& path, uint64_t rows, uint64_t cols,
                           const int32_t* values) {
  ASSIGN_OR_RETURN(NpyWriter writer, NpyWriter::Create(path, NpyDtype::kInt32, cols));
  RETURN_IF_ERROR(writer.AppendRows(values, rows));
  return writer.Close();
}

}  // namespace adanns::readers
