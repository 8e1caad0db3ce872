#include "client/readers/fvecs_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::readers {
namespace {

// Larger reads are split so the raw buffer stays bounded whatever max_rows is.
constexpr size_t kMaxBufferBytes = 16 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<FvecsReader>> FvecsReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(BinaryInputFile file, BinaryInputFile::Open(path));
  if (file.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path,
                                                   " is empty: an .fvecs file needs at "
                                                   "least one row to know its dim"));
  }
  int32_t dim = 0;
  RETURN_IF_ERROR(file.ReadExact(&dim, sizeof(dim), "the dim of row 0"));
  if (dim <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": row 0 declares dim ", dim, ": expected a positive dim"));
  }
  const uint64_t row_bytes = sizeof(int32_t) + static_cast<uint64_t>(dim) * sizeof(float);
  if (file.size() % row_bytes != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is truncated or has mixed dims: ", file.size(),
                     " bytes is not a whole number of ", row_bytes, "-byte rows of dim ", dim, " (",
                     file.size() / row_bytes, " rows and ", file.size() % row_bytes, " bytes)"));
  }
  RETURN_IF_ERROR(file.Seek(0));
  const uint64_t rows = file.size() / row_bytes;
  return std::unique_ptr<FvecsReader>(
      new FvecsReader(std::move(file), rows, static_cast<uint32_t>(dim)));
}

absl::StatusOr<size_t> FvecsReader::Read(size_t max_rows, float* out) {
  const size_t row_bytes = sizeof(int32_t) + size_t{dim_} * sizeof(float);
  const size_t rows_per_batch = std::max<size_t>(1, kMaxBufferBytes / row_bytes);
  const size_t count = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - rows_read_));
  size_t done = 0;
  while (done < count) {
    const size_t batch = std::min(rows_per_batch, count - done);
    buffer_.resize(batch * row_bytes);
    RETURN_IF_ERROR(
        file_.ReadExact(buffer_.data(), buffer_.size(),
                        absl::StrCat("rows ", rows_read_, "..", rows_read_ + batch - 1)));
    for (size_t i = 0; i < batch; ++i) {
      const char* row = buffer_.data() + i * row_bytes;
      int32_t row_dim;
      std::memcpy(&row_dim, row, sizeof(row_dim));
      if (row_dim != static_cast<int32_t>(dim_)) {
        return absl::InvalidArgumentError(absl::StrCat(file_.path(), ": row ", rows_read_ + i,
                                                       " has dim ", row_dim, ", but row 0 has dim ",
                                                       dim_));
      }
      std::memcpy(out + (done + i) * dim_, row + sizeof(int32_t), size_t{dim_} * sizeof(float));
    }
    rows_read_ += batch;
    done += batch;
  }
  return count;
}

}  // namespace adanns::readers
