#include "client/readers/npy_format.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace adanns::readers {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the .npy readers copy little-endian data as is");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// Header lengths are padded so that the data starts at a multiple of this.
constexpr size_t kHeaderAlignment = 64;

// Parses the Python literal numpy writes as the header: a dict with string keys whose values are
// strings, True/False or tuples of integers.
class HeaderParser {
 public:
  explicit HeaderParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<NpyHeader> Parse() {
    NpyHeader header;
    bool has_descr = false, has_fortran_order = false, has_shape = false;
    RETURN_IF_ERROR(Expect('{'));
    while (true) {
      SkipSpace();
      if (Consume('}')) {
        break;
      }
      ASSIGN_OR_RETURN(std::string key, ParseString());
      RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      if (key == "descr") {
        if (Peek() == '[') {
          return Error("structured dtypes (a list 'descr') are not supported");
        }
        ASSIGN_OR_RETURN(header.descr, ParseString());
        has_descr = true;
      } else if (key == "fortran_order") {
        ASSIGN_OR_RETURN(header.fortran_order, ParseBool());
        has_fortran_order = true;
      } else if (key == "shape") {
        ASSIGN_OR_RETURN(header.shape, ParseShape());
        has_shape = true;
      } else {
        return Error(absl::StrCat("unexpected key '", key, "'"));
      }
      SkipSpace();
      if (Consume('}')) {
        break;
      }
      RETURN_IF_ERROR(Expect(','));
    }
    SkipSpace();
    if (position_ != text_.size()) {
      return Error("unexpected text after the closing '}'");
    }
    if (!has_descr) {
      return Error("missing key 'descr'");
    }
    if (!has_fortran_order) {
      return Error("missing key 'fortran_order'");
    }
    if (!has_shape) {
      return Error("missing key 'shape'");
    }
    return header;
  }

 private:
  absl::Status Error(absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat("bad .npy header at character ", position_, ": ", problem));
  }
  char Peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void SkipSpace() {
    while (position_ < text_.size() &&
           (text_[position_] == ' ' || text_[position_] == '\t' || text_[position_] == '\n')) {
      ++position_;
    }
  }
  bool Consume(char c) {
    if (Peek() != c || position_ >= text_.size()) {
      return false;
    }
    ++position_;
    return true;
  }
  absl::Status Expect(char c) {
    SkipSpace();
    if (!Consume(c)) {
      return Error(absl::StrCat("expected '", std::string(1, c), "'"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ParseString() {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') {
      return Error("expected a quoted string");
    }
    const size_t end = text_.find(quote, position_ + 1);
    if (end == absl::string_view::npos) {
      return Error("unterminated string");
    }
    std::string value(text_.substr(position_ + 1, end - position_ - 1));
    position_ = end + 1;
    return value;
  }
  absl::StatusOr<bool> ParseBool() {
    if (text_.substr(position_, 4) == "True") {
      position_ += 4;
      return true;
    }
    if (text_.substr(position_, 5) == "False") {
      position_ += 5;
      return false;
    }
    return Error("expected True or False");
  }
  absl::StatusOr<uint64_t> ParseInteger() {
    SkipSpace();
    uint64_t value = 0;
    const size_t start = position_;
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      const uint64_t digit = static_cast<uint64_t>(text_[position_] - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
        return Error("dimension too large");
      }
      value = value * 10 + digit;
      ++position_;
    }
    if (position_ == start) {
      return Error("expected a non-negative integer");
    }
    Consume('L');  // Python 2 wrote long integers with a suffix.
    return value;
  }
  absl::StatusOr<std::vector<uint64_t>> ParseShape() {
    if (!Consume('(')) {
      return Error("expected a tuple for 'shape'");
    }
    std::vector<uint64_t> shape;
    while (true) {
      SkipSpace();
      if (Consume(')')) {
        break;
      }
      ASSIGN_OR_RETURN(uint64_t dimension, ParseInteger());
      shape.push_back(dimension);
      SkipSpace();
      if (Consume(')')) {
        break;
      }
      RETURN_IF_ERROR(Expect(','));
    }
    return shape;
  }

  absl::string_view text_;
  size_t position_ = 0;
};

std::string DescribeDescr(absl::string_view descr) {
  if (descr.size() >= 2 && descr[0] == '>') {
    return absl::StrCat("'", descr, "' (big-endian)");
  }
  if (descr == "<f8") {
    return "'<f8' (float64)";
  }
  if (descr == "|u1") {
    return "'|u1' (uint8)";
  }
  if (descr == "|i1") {
    return "'|i1' (int8)";
  }
  return absl::StrCat("'", descr, "'");
}

}  // namespace

absl::string_view NpyDescr(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kFloat32:
      return "<f4";
    case NpyDtype::kFloat16:
      return "<f2";
    case NpyDtype::kInt32:
      return "<i4";
    case NpyDtype::kInt64:
      return "<i8";
  }
  return "";
}

size_t NpyItemSize(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kFloat32:
    case NpyDtype::kInt32:
      return 4;
    case NpyDtype::kFloat16:
      return 2;
    case NpyDtype::kInt64:
      return 8;
  }
  return 0;
}

std::string NpyHeader::ShapeString() const {
  if (shape.size() == 1) {
    return absl::StrCat("(", shape[0], ",)");
  }
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::StatusOr<NpyHeader> ParseNpyHeaderDict(absl::string_view text) {
  return HeaderParser(text).Parse();
}

absl::StatusOr<NpyHeader> ReadNpyHeader(BinaryInputFile& file) {
  char preamble[kMagicSize + 2];
  RETURN_IF_ERROR(file.ReadExact(preamble, sizeof(preamble), "the .npy magic"));
  if (std::memcmp(preamble, kMagic, kMagicSize) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.path(), " is not a .npy file (no \\x93NUMPY magic)"));
  }
  const int major = static_cast<unsigned char>(preamble[6]);
  const int minor = static_cast<unsigned char>(preamble[7]);
  uint64_t header_length = 0;
  if (major == 1) {
    unsigned char length[2];
    RETURN_IF_ERROR(file.ReadExact(length, sizeof(length), "the .npy header length"));
    header_length = length[0] | (length[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char length[4];
    RETURN_IF_ERROR(file.ReadExact(length, sizeof(length), "the .npy header length"));
    header_length = static_cast<uint64_t>(length[0]) | (static_cast<uint64_t>(length[1]) << 8) |
                    (static_cast<uint64_t>(length[2]) << 16) |
                    (static_cast<uint64_t>(length[3]) << 24);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), " has .npy format version ", major,
                                                   ".", minor,
                                                   ": only 1.0, 2.0 and 3.0 are supported"));
  }
  if (header_length > file.size()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), " is truncated: its header says ",
                                                   header_length, " bytes, the file has ",
                                                   file.size()));
  }
  std::string text(header_length, '\0');
  RETURN_IF_ERROR(file.ReadExact(text.data(), text.size(), "the .npy header"));
  absl::StatusOr<NpyHeader> header = ParseNpyHeaderDict(text);
  if (!header.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", header.status().message()));
  }
  header->data_offset = file.position();
  return header;
}

absl::StatusOr<NpyDtype> ValidateNpyMatrix(const NpyHeader& header, const BinaryInputFile& file,
                                           std::initializer_list<NpyDtype> accepted) {
  std::optional<NpyDtype> dtype;
  std::vector<std::string> accepted_descrs;
  for (NpyDtype candidate : accepted) {
    accepted_descrs.push_back(absl::StrCat("'", NpyDescr(candidate), "'"));
    if (header.descr == NpyDescr(candidate)) {
      dtype = candidate;
    }
  }
  if (!dtype.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), " has unsupported dtype ",
                                                   DescribeDescr(header.descr), ": expected ",
                                                   absl::StrJoin(accepted_descrs, " or ")));
  }
  if (header.fortran_order) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.path(),
                     " is in Fortran (column-major) order: save a C-order array "
                     "(numpy.ascontiguousarray) instead"));
  }
  if (header.shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), " holds an array of shape ",
                                                   header.ShapeString(), ": expected 2-D"));
  }
  const uint64_t rows = header.shape[0], cols = header.shape[1];
  const uint64_t item_size = NpyItemSize(*dtype);
  const uint64_t max_elements = std::numeric_limits<uint64_t>::max() / item_size;
  if (cols != 0 && rows > max_elements / cols) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.path(), " has an impossible shape ", header.ShapeString()));
  }
  const uint64_t data_bytes = rows * cols * item_size;
  const uint64_t available = file.size() - header.data_offset;
  if (available < data_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), " is truncated: shape ",
                                                   header.ShapeString(), " needs ", data_bytes,
                                                   " bytes of data, the file has ", available));
  }
  if (available > data_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(file.path(), " has ", available - data_bytes,
                                                   " bytes after the data of shape ",
                                                   header.ShapeString()));
  }
  return *dtype;
}

std::string FormatNpyHeader(NpyDtype dtype, uint64_t rows, uint64_t cols) {
  auto dict = [&](uint64_t row_count) {
    return absl::StrCat("{'descr': '", NpyDescr(dtype), "', 'fortran_order': False, 'shape': (",
                        row_count, ", ", cols, "), }");
  };
  // Magic (6) + version (2) + length (2) + dict + newline, padded for the widest row count.
  const size_t fixed = kMagicSize + 4;
  const size_t widest = fixed + dict(std::numeric_limits<uint64_t>::max()).size() + 1;
  const size_t total = (widest + kHeaderAlignment - 1) / kHeaderAlignment * kHeaderAlignment;
  std::string text = dict(rows);
  text.append(total - fixed - text.size() - 1, ' ');
  text.push_back('\n');
  const size_t header_length = text.size();
  std::string out(kMagic, kMagicSize);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header_length & 0xff));
  out.push_back(static_cast<char>(header_length >> 8));
  out += text;
  return out;
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) {
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // infinity or NaN (kept quiet)
    return static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  }
  if (magnitude >= 0x477ff000u) {  // >= 65520 rounds past the largest half, 65504
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal in units of 2^-24
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;  // exact: power of two
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  uint32_t half = (((magnitude >> 23) - 112) << 10) | ((magnitude >> 13) & 0x3ffu);
  const uint32_t remainder = magnitude & 0x1fffu;
  // A carry out of the mantissa correctly bumps the exponent.
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u) != 0)) {
    ++half;
  }
  return static_cast<uint16_t>(sign | half);
}

}  // namespace adanns::readers
