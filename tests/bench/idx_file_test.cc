#include "bench/datasets/idx_file.h"

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::bench {
namespace {

using ::testing::HasSubstr;

std::string BigEndian(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string Idx3(uint32_t magic, uint32_t count, uint32_t rows, uint32_t cols,
                 size_t payload_bytes) {
  std::string bytes = BigEndian(magic) + BigEndian(count) + BigEndian(rows) + BigEndian(cols);
  for (size_t i = 0; i < payload_bytes; ++i) bytes.push_back(static_cast<char>(i % 251));
  return bytes;
}

void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

TEST(IdxFileTest, ReadsImagesInOrder) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/images.gz";
  WriteGz(path, Idx3(0x803, 3, 2, 4, 3 * 2 * 4));
  absl::StatusOr<IdxImages> images = ReadIdxImages(path);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->count, 3u);
  EXPECT_EQ(images->rows, 2u);
  EXPECT_EQ(images->cols, 4u);
  EXPECT_EQ(images->pixels_per_image(), 8u);
  ASSERT_EQ(images->pixels.size(), 24u);
  EXPECT_EQ(images->pixels[0], 0);
  EXPECT_EQ(images->pixels[23], 23);
}

TEST(IdxFileTest, RejectsWrongMagic) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/labels.gz";
  WriteGz(path, Idx3(0x801, 3, 2, 4, 24));  // an idx1 label file
  absl::StatusOr<IdxImages> images = ReadIdxImages(path);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(images.status().message(), HasSubstr("magic 0x00000801"));
}

TEST(IdxFileTest, RejectsTruncatedAndOverlongPayloads) {
  testing::TempDir dir;
  const std::string short_path = dir.path() + "/short.gz";
  WriteGz(short_path, Idx3(0x803, 3, 2, 4, 20));
  EXPECT_THAT(ReadIdxImages(short_path).status().message(), HasSubstr("truncated"));

  const std::string long_path = dir.path() + "/long.gz";
  WriteGz(long_path, Idx3(0x803, 3, 2, 4, 25));
  EXPECT_THAT(ReadIdxImages(long_path).status().message(), HasSubstr("trailing bytes"));

  const std::string header_path = dir.path() + "/header.gz";
  WriteGz(header_path, Idx3(0x803, 3, 2, 4, 0).substr(0, 10));
  EXPECT_EQ(ReadIdxImages(header_path).status().code(), absl::StatusCode::kDataLoss);
}

TEST(IdxFileTest, RejectsZeroDimensions) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/empty.gz";
  WriteGz(path, Idx3(0x803, 0, 28, 28, 0));
  EXPECT_THAT(ReadIdxImages(path).status().message(), HasSubstr("implausible"));
}

TEST(IdxFileTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadIdxImages("/nonexistent/train-images-idx3-ubyte.gz").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adanns::bench
