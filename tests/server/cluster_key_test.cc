// ReadClusterKey: what a --cluster_key_file may hold. gRPC sends the key as a plain header, so
// only printable ASCII passes; a short key is refused; surrounding whitespace is not part of it.
#include "server/cluster_key.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::server {
namespace {

using ::testing::HasSubstr;

std::string Write(const adanns::testing::TempDir& dir, const std::string& bytes) {
  const std::string path = dir.path() + "/key";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

TEST(ClusterKeyFileTest, PrintableKeysOfSixteenBytesOrMore) {
  adanns::testing::TempDir dir;
  auto key = ReadClusterKey(Write(dir, "  0123456789abcdef0123\n"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "0123456789abcdef0123");

  const absl::Status short_key = ReadClusterKey(Write(dir, "0123456789\n")).status();
  EXPECT_EQ(short_key.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_key.message()), HasSubstr("at least 16"));

  const absl::Status binary = ReadClusterKey(Write(dir, std::string("0123456789\x01\xff"
                                                                    "abcdefgh",
                                                                    20)))
                                  .status();
  EXPECT_EQ(binary.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(binary.message()), HasSubstr("printable ASCII at 10"));

  EXPECT_EQ(ReadClusterKey(dir.path() + "/absent").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace adanns::server
