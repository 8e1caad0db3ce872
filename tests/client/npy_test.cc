#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "client/readers/npy_format.h"
#include "client/readers/npy_reader.h"
#include "client/readers/npy_writer.h"
#include "client/readers/vector_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_util.h"

namespace adanns::readers {
namespace {

using ::adanns::testing::AppendRaw;
using ::adanns::testing::ChunkedRead;
using ::adanns::testing::MessageOf;
using ::adanns::testing::ReadBytes;
using ::adanns::testing::ReadInChunks;
using ::adanns::testing::TempDir;
using ::adanns::testing::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A .npy file assembled by hand: `dict` padded with spaces to make the preamble + header a
// multiple of `alignment`, then a newline, then `data`.
std::string HandNpy(const std::string& dict, const std::string& data, int major = 1,
                    size_t alignment = 64) {
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t fixed = 8 + length_bytes;
  std::string header = dict;
  while ((fixed + header.size() + 1) % alignment != 0) {
    header.push_back(' ');
  }
  header.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  if (major == 1) {
    AppendRaw(out, static_cast<uint16_t>(header.size()));
  } else {
    AppendRaw(out, static_cast<uint32_t>(header.size()));
  }
  return out + header + data;
}

template <typename T>
std::string RawData(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

std::vector<float> Ramp(size_t count) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = static_cast<float>(i) * 0.25f - 3.0f;
  }
  return values;
}

absl::Status OpenStatus(const std::string& path) { return NpyReader::Open(path).status(); }

TEST(NpyWriterTest, Float32RoundTripsExactly) {
  TempDir dir;
  const std::string path = dir.File("a.npy");
  std::vector<float> values = {0.0f,   -0.0f, 1.5f, -2.25f, std::numeric_limits<float>::min(),
                               1e-42f, 3e38f, 0.1f, 7.0f,   -1e-7f};
  ASSERT_TRUE(WriteNpy(path, 5, 2, values.data()).ok());
  absl::StatusOr<Matrix<float>> matrix = ReadNpy(path);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_EQ(matrix->rows, 5u);
  EXPECT_EQ(matrix->cols, 2u);
  EXPECT_EQ(std::memcmp(matrix->values.data(), values.data(), values.size() * 4), 0);
}

TEST(NpyWriterTest, WritesTheHeaderNumpyWrites) {
  TempDir dir;
  const std::string path = dir.File("a.npy");
  const float values[] = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(WriteNpy(path, 2, 3, values).ok());
  const std::string bytes = ReadBytes(path);
  ASSERT_EQ(bytes.size() % 64, 24u);  // header padded to 64 bytes; 24 bytes of data
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_length = static_cast<unsigned char>(bytes[8]) | (bytes[9] << 8);
  EXPECT_EQ(10 + header_length, bytes.size() - 24);
  const std::string header = bytes.substr(10, header_length);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_THAT(header, HasSubstr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
}

TEST(NpyWriterTest, AppendsInBlocksAndCountsRows) {
  TempDir dir;
  const std::string path = dir.File("blocks.npy");
  const std::vector<float> values = Ramp(7 * 3);
  absl::StatusOr<NpyWriter> writer = NpyWriter::Create(path, NpyDtype::kFloat32, 3);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->AppendRows(values.data(), 4).ok());
  ASSERT_TRUE(writer->AppendRows(values.data() + 12, 3).ok());
  EXPECT_EQ(writer->rows_written(), 7u);
  const int32_t ints[3] = {1, 2, 3};
  EXPECT_EQ(writer->AppendRows(ints, 1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_EQ(writer->AppendRows(values.data(), 1).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Matrix<float>> matrix = ReadNpy(path);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_EQ(matrix->rows, 7u);
  EXPECT_EQ(matrix->values, values);
}

TEST(NpyWriterTest, EmptyArrayIsReadable) {
  TempDir dir;
  const std::string path = dir.File("empty.npy");
  ASSERT_TRUE(WriteNpy(path, 0, 4, nullptr).ok());
  absl::StatusOr<std::unique_ptr<VectorReader>> reader = OpenVectorFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->rows(), 0u);
  EXPECT_EQ((*reader)->dim(), 4u);
  float unused[4];
  EXPECT_EQ(*(*reader)->Read(10, unused), 0u);
}

TEST(NpyWriterTest, Float16RoundTripsRepresentableValues) {
  TempDir dir;
  const std::string path = dir.File("half.npy");
  const std::vector<float> values = {1.0f,     -2.5f,    0.333251953125f, 65504.0f, -0.0f,
                                     0x1p-24f, 0x1p-14f, 1025.0f,         -0.0625f, 0.0009765625f,
                                     3.0f,     -65504.0f};
  absl::StatusOr<NpyWriter> writer = NpyWriter::Create(path, NpyDtype::kFloat16, 4);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->AppendRows(values.data(), 3).ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_THAT(ReadBytes(path), HasSubstr("'descr': '<f2'"));
  absl::StatusOr<Matrix<float>> matrix = ReadNpy(path);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_EQ(matrix->values, values);
  EXPECT_TRUE(std::signbit(matrix->values[4]));
}

TEST(NpyWriterTest, Int32RoundTrips) {
  TempDir dir;
  const std::string path = dir.File("gt.npy");
  const std::vector<int32_t> ids = {0, -1, 2147483647, -2147483647 - 1, 5, 6};
  ASSERT_TRUE(WriteNpyInt32(path, 3, 2, ids.data()).ok());
  absl::StatusOr<Matrix<int32_t>> matrix = ReadNpyInt32(path);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_EQ(matrix->rows, 3u);
  EXPECT_EQ(matrix->cols, 2u);
  EXPECT_EQ(matrix->values, ids);
  EXPECT_EQ(matrix->row(1)[0], 2147483647);
  // A float loader refuses int files, naming both dtypes.
  EXPECT_THAT(MessageOf(ReadNpy(path).status()),
              HasSubstr("unsupported dtype '<i4': expected '<f4' or '<f2'"));
}

TEST(HalfTest, DecodesSpecialBitPatterns) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(HalfToFloat(0x03ff), 1023 * 0x1p-24f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
}

TEST(HalfTest, EncodesWithRoundToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(1.0f + 0x1p-11f), 0x3c00);      // tie: stays on the even 1.0
  EXPECT_EQ(FloatToHalf(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie: rounds up to even
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e9f), 0xfc00);
  EXPECT_EQ(FloatToHalf(0x1p-25f), 0x0000);            // tie with 0: even
  EXPECT_EQ(FloatToHalf(0x1p-25f * 3), 0x0002);        // 1.5 units: rounds to even 2
  EXPECT_EQ(FloatToHalf(1023.5f * 0x1p-24f), 0x0400);  // rounds up into the normals
  EXPECT_EQ(FloatToHalf(2047.9f), 0x67ff + 1);
  EXPECT_EQ(FloatToHalf(std::nanf("")) & 0x7c00, 0x7c00);
  EXPECT_NE(FloatToHalf(std::nanf("")) & 0x03ff, 0);
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(bits))), bits);
  }
}

TEST(NpyReaderTest, ChunkedReadsOfOddSizes) {
  TempDir dir;
  const std::string path = dir.File("odd.npy");
  constexpr size_t kRows = 23, kDim = 5;
  const std::vector<float> values = Ramp(kRows * kDim);
  ASSERT_TRUE(WriteNpy(path, kRows, kDim, values.data()).ok());
  absl::StatusOr<std::unique_ptr<VectorReader>> reader = OpenVectorFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ChunkedRead read = ReadInChunks(**reader, 7);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_THAT(read.read_sizes, ElementsAre(7, 7, 7, 2));
  EXPECT_EQ((*reader)->rows_read(), kRows);
  EXPECT_EQ(read.values, values);
}

TEST(NpyReaderTest, AcceptsHeaderVariants) {
  TempDir dir;
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  const std::string data = RawData(values);
  struct Variant {
    std::string dict;
    int major;
    size_t alignment;
  };
  const Variant variants[] = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 1, 64},
      {"{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(3,2)}", 1, 64},
      {"{ 'shape' : ( 3 , 2 ) , 'fortran_order' : False , 'descr' : '<f4' }", 1, 64},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L), }", 1, 16},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 2, 64},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 3, 64},
  };
  for (const Variant& variant : variants) {
    SCOPED_TRACE(variant.dict + " v" + std::to_string(variant.major));
    const std::string path = dir.File("variant.npy");
    WriteBytes(path, HandNpy(variant.dict, data, variant.major, variant.alignment));
    absl::StatusOr<Matrix<float>> matrix = ReadNpy(path);
    ASSERT_TRUE(matrix.ok()) << matrix.status();
    EXPECT_EQ(matrix->rows, 3u);
    EXPECT_EQ(matrix->cols, 2u);
    EXPECT_EQ(matrix->values, values);
  }
}

TEST(NpyReaderTest, ReadsHandWrittenFloat16) {
  TempDir dir;
  const std::string path = dir.File("half.npy");
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x3555, 0x8000};
  WriteBytes(path, HandNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }",
                           RawData(halves)));
  absl::StatusOr<std::unique_ptr<VectorReader>> reader = OpenVectorFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> out(6);
  ASSERT_EQ(*(*reader)->Read(1, out.data()), 1u);
  ASSERT_EQ(*(*reader)->Read(5, out.data() + 3), 1u);
  EXPECT_THAT(out, ElementsAre(1.0f, -2.0f, 0x1p-24f, 65504.0f, 0.333251953125f, -0.0f));
}

TEST(NpyReaderTest, Int64GroundTruthNarrowsWhenInRange) {
  TempDir dir;
  const std::string path = dir.File("gt64.npy");
  const std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }";
  WriteBytes(path, HandNpy(dict, RawData(std::vector<int64_t>{3, 1, 0, 2147483647})));
  absl::StatusOr<Matrix<int32_t>> matrix = ReadNpyInt32(path);
  ASSERT_TRUE(matrix.ok()) << matrix.status();
  EXPECT_THAT(matrix->values, ElementsAre(3, 1, 0, 2147483647));

  WriteBytes(path, HandNpy(dict, RawData(std::vector<int64_t>{3, 1, 2147483648LL, 0})));
  EXPECT_THAT(MessageOf(ReadNpyInt32(path).status()),
              HasSubstr("value 2147483648 at row 1 does not fit in int32"));
}

struct MalformedCase {
  std::string name;
  std::string bytes;
  std::string expected_message;
};

std::string ValidFloatNpy() {
  return HandNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                 RawData(std::vector<float>{1, 2, 3, 4}));
}

TEST(NpyReaderTest, MalformedFilesGivePreciseErrors) {
  const std::string data = RawData(std::vector<float>{1, 2, 3, 4});
  const std::string valid = ValidFloatNpy();
  std::string bad_magic = valid;
  bad_magic[1] = 'X';
  std::string bad_version = valid;
  bad_version[6] = 4;
  const MalformedCase cases[] = {
      {"truncated data", valid.substr(0, valid.size() - 3),
       "is truncated: shape (2, 2) needs 16 bytes of data, the file has 13"},
      {"trailing bytes", valid + "xy", "has 2 bytes after the data of shape (2, 2)"},
      {"truncated header", valid.substr(0, 40), "its header says 118 bytes, the file has 40"},
      {"too short for magic", "\x93NUM", "is truncated: the .npy magic needs 8 bytes"},
      {"bad magic", bad_magic, "is not a .npy file (no \\x93NUMPY magic)"},
      {"bad version", bad_version, "has .npy format version 4.0"},
      {"fortran order", HandNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data),
       "is in Fortran (column-major) order"},
      {"float64", HandNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }", data),
       "has unsupported dtype '<f8' (float64): expected '<f4' or '<f2'"},
      {"big endian", HandNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", data),
       "has unsupported dtype '>f4' (big-endian)"},
      {"uint8", HandNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (4, 4), }", data),
       "has unsupported dtype '|u1' (uint8)"},
      {"one dimension", HandNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data),
       "holds an array of shape (4,): expected 2-D"},
      {"three dimensions",
       HandNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", data),
       "holds an array of shape (1, 2, 2): expected 2-D"},
      {"zero columns", HandNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 0), }", ""),
       "has rows of 0 values"},
      {"missing key", HandNpy("{'descr': '<f4', 'shape': (2, 2), }", data),
       "missing key 'fortran_order'"},
      {"unknown key",
       HandNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", data),
       "unexpected key 'x'"},
      {"structured dtype",
       HandNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data),
       "structured dtypes"},
      {"not a dict", HandNpy("['descr']", data), "bad .npy header at character 0: expected '{'"},
      {"bad bool", HandNpy("{'descr': '<f4', 'fortran_order': no, 'shape': (2, 2), }", data),
       "expected True or False"},
  };
  TempDir dir;
  for (const MalformedCase& malformed : cases) {
    SCOPED_TRACE(malformed.name);
    const std::string path = dir.File("bad.npy");
    WriteBytes(path, malformed.bytes);
    const absl::Status status = OpenStatus(path);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(MessageOf(status), HasSubstr(malformed.expected_message));
    EXPECT_THAT(MessageOf(status), HasSubstr(path));
  }
}

TEST(NpyReaderTest, MissingFileIsNotFound) {
  TempDir dir;
  const std::string path = dir.File("nope.npy");
  const absl::Status status = OpenStatus(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(status), HasSubstr("cannot open " + path));
  EXPECT_EQ(ReadNpy(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(NpyReaderTest, DirectoryIsRejected) {
  TempDir dir;
  EXPECT_THAT(MessageOf(OpenStatus(dir.File(""))), HasSubstr("is not a regular file"));
}

TEST(ParseNpyHeaderDictTest, ParsesShapeAndOrder) {
  absl::StatusOr<NpyHeader> header =
      ParseNpyHeaderDict("{'descr': '<f2', 'fortran_order': True, 'shape': (), }\n");
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->descr, "<f2");
  EXPECT_TRUE(header->fortran_order);
  EXPECT_TRUE(header->shape.empty());
  EXPECT_THAT(MessageOf(ParseNpyHeaderDict("{'descr': '<f4'").status()), HasSubstr("expected ','"));
  EXPECT_THAT(MessageOf(ParseNpyHeaderDict("{'shape': (99999999999999999999999,)}").status()),
              HasSubstr("dimension too large"));
  EXPECT_THAT(
      MessageOf(
          ParseNpyHeaderDict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x").status()),
      HasSubstr("unexpected text after the closing '}'"));
}

TEST(OpenVectorFileTest, PicksTheFormatByExtension) {
  TempDir dir;
  const float values[] = {1, 2};
  ASSERT_TRUE(WriteNpy(dir.File("UPPER.NPY"), 1, 2, values).ok());
  EXPECT_TRUE(OpenVectorFile(dir.File("UPPER.NPY")).ok());
  ASSERT_TRUE(WriteNpy(dir.File("no_extension"), 1, 2, values).ok());
  EXPECT_THAT(MessageOf(OpenVectorFile(dir.File("no_extension")).status()),
              HasSubstr("expected .npy, .fvecs, .hdf5 or .h5"));
  ReaderOptions options;
  options.format = "npy";
  EXPECT_TRUE(OpenVectorFile(dir.File("no_extension"), options).ok());
  options.format = "csv";
  EXPECT_THAT(MessageOf(OpenVectorFile(dir.File("no_extension"), options).status()),
              HasSubstr("unknown vector file format 'csv'"));
}

}  // namespace
}  // namespace adanns::readers
