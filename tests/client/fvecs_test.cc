#include <vector>

#include "client/readers/fvecs_reader.h"
#include "client/readers/vector_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_util.h"

namespace adanns::readers {
namespace {

using ::adanns::testing::AppendRaw;
using ::adanns::testing::ChunkedRead;
using ::adanns::testing::MessageOf;
using ::adanns::testing::ReadInChunks;
using ::adanns::testing::TempDir;
using ::adanns::testing::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// .fvecs bytes for `rows`, each written with its own length as the dim.
std::string Fvecs(const std::vector<std::vector<float>>& rows) {
  std::string bytes;
  for (const std::vector<float>& row : rows) {
    AppendRaw(bytes, static_cast<int32_t>(row.size()));
    for (float value : row) {
      AppendRaw(bytes, value);
    }
  }
  return bytes;
}

std::vector<std::vector<float>> Rows(size_t count, size_t dim) {
  std::vector<std::vector<float>> rows(count, std::vector<float>(dim));
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < dim; ++j) {
      rows[i][j] = static_cast<float>(i) + 0.125f * j - 1.0f;
    }
  }
  return rows;
}

TEST(FvecsReaderTest, ChunkedReadsRoundTrip) {
  TempDir dir;
  const std::string path = dir.File("base.fvecs");
  const auto rows = Rows(11, 3);
  WriteBytes(path, Fvecs(rows));
  absl::StatusOr<std::unique_ptr<VectorReader>> reader = OpenVectorFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->rows(), 11u);
  EXPECT_EQ((*reader)->dim(), 3u);
  const ChunkedRead read = ReadInChunks(**reader, 4);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_THAT(read.read_sizes, ElementsAre(4, 4, 3));
  std::vector<float> expected;
  for (const std::vector<float>& row : rows) {
    expected.insert(expected.end(), row.begin(), row.end());
  }
  EXPECT_EQ(read.values, expected);
}

TEST(FvecsReaderTest, MismatchedDimIsReportedAtItsRow) {
  TempDir dir;
  const std::string path = dir.File("mixed.fvecs");
  // Rows of dims 4,4,4,2,6: the total length is still a whole number of dim-4 rows.
  WriteBytes(path, Fvecs({{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2}, {1, 2, 3, 4, 5, 6}}));
  absl::StatusOr<std::unique_ptr<FvecsReader>> reader = FvecsReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> out(2 * 4);
  ASSERT_EQ(*(*reader)->Read(2, out.data()), 2u);
  const absl::Status status = (*reader)->Read(2, out.data()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), HasSubstr(path + ": row 3 has dim 2, but row 0 has dim 4"));
}

TEST(FvecsReaderTest, MalformedFilesGivePreciseErrors) {
  TempDir dir;
  const std::string path = dir.File("bad.fvecs");
  const std::string valid = Fvecs(Rows(3, 5));

  WriteBytes(path, valid.substr(0, valid.size() - 2));
  absl::Status status = FvecsReader::Open(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status),
              HasSubstr("is truncated or has mixed dims: 70 bytes is not a whole "
                        "number of 24-byte rows of dim 5 (2 rows and 22 bytes)"));

  WriteBytes(path, "");
  EXPECT_THAT(MessageOf(FvecsReader::Open(path).status()), HasSubstr("is empty"));

  WriteBytes(path, std::string("\x01\x00", 2));
  EXPECT_THAT(MessageOf(FvecsReader::Open(path).status()),
              HasSubstr("is truncated: the dim of row 0 needs 4 bytes at offset 0, only 2 remain"));

  WriteBytes(path, Fvecs({{}}) + valid);
  EXPECT_THAT(MessageOf(FvecsReader::Open(path).status()),
              HasSubstr("row 0 declares dim 0: expected a positive dim"));

  EXPECT_EQ(FvecsReader::Open(dir.File("missing.fvecs")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adanns::readers
