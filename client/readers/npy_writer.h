// Writing 2-D .npy files row block by row block (the benchmark's `prepare` writes base, query and
// ground-truth arrays with it), plus one-call helpers for arrays already in memory.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/readers/binary_file.h"
#include "client/readers/npy_format.h"

namespace adanns::readers {

// Appends rows of `cols` values; Close() writes the final row count into the header. A writer
// destroyed without Close() leaves a file whose header claims 0 rows (numpy then refuses it).
class NpyWriter {
 public:
  // `dtype`: kFloat32, kFloat16 (rounded to nearest even) or kInt32.
  static absl::StatusOr<NpyWriter> Create(const std::string& path, NpyDtype dtype, uint64_t cols);

  // For kFloat32 and kFloat16 writers: `count` rows of `cols` floats, row-major.
  absl::Status AppendRows(const float* rows, uint64_t count);
  // For kInt32 writers.
  absl::Status AppendRows(const int32_t* rows, uint64_t count);
  absl::Status Close();

  uint64_t rows_written() const { return rows_written_; }

 private:
  NpyWriter(BinaryOutputFile file, NpyDtype dtype, uint64_t cols)
      : file_(std::move(file)), dtype_(dtype), cols_(cols) {}
  absl::Status CheckDtype(bool floats) const;

  BinaryOutputFile file_;
  NpyDtype dtype_;
  uint64_t cols_;
  uint64_t rows_written_ = 0;
  bool closed_ = false;
};

// Writes a rows x cols float32 array in one call.
absl::Status WriteNpy(const std::string& path, uint64_t rows, uint64_t cols, const float* values);
// Writes a rows x cols int32 array (e.g. ground-truth neighbour ids) in one call.
absl::Status WriteNpyInt32(const std::string& path, uint64_t rows, uint64_t cols,
                           const int32_t* values);

}  // namespace adanns::readers
