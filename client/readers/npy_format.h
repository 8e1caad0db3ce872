// The NumPy .npy container: parsing and formatting its header, and float16 <-> float32
// conversion. Shared by the streaming reader, the whole-file loaders and the writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/readers/binary_file.h"

namespace adanns::readers {

// Element types this project reads or writes.
enum class NpyDtype { kFloat32, kFloat16, kInt32, kInt64 };

// The dtype string numpy writes for `dtype` ("<f4", "<f2", "<i4", "<i8").
absl::string_view NpyDescr(NpyDtype dtype);
size_t NpyItemSize(NpyDtype dtype);

struct NpyHeader {
  std::string descr;  // as written, e.g. "<f4"
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  uint64_t data_offset = 0;  // bytes from the start of the file to the first element

  // "(3, 4)", as numpy prints shapes; used in error messages.
  std::string ShapeString() const;
};

// Reads the magic, version and header dict from the start of `file` (versions 1.0, 2.0, 3.0).
// INVALID_ARGUMENT naming the problem when any part is malformed.
absl::StatusOr<NpyHeader> ReadNpyHeader(BinaryInputFile& file);

// Parses the header dict text ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }").
absl::StatusOr<NpyHeader> ParseNpyHeaderDict(absl::string_view text);

// Checks what every 2-D reader needs: one of `accepted` dtypes, C order, two dimensions, and a file
// exactly as long as the header says. Returns the dtype.
absl::StatusOr<NpyDtype> ValidateNpyMatrix(const NpyHeader& header, const BinaryInputFile& file,
                                           std::initializer_list<NpyDtype> accepted);

// A version 1.0 preamble + header for a C-order 2-D array. Its length does not depend on `rows`
// (padding absorbs the digits), so a writer can rewrite it once the row count is known.
std::string FormatNpyHeader(NpyDtype dtype, uint64_t rows, uint64_t cols);

// IEEE binary16 bits to float32 (exact, subnormals, infinities and NaN included).
float HalfToFloat(uint16_t half);
// float32 to binary16 bits, rounding to nearest even; overflow gives infinity.
uint16_t FloatToHalf(float value);

}  // namespace adanns::readers
