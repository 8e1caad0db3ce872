// Tests for storage/collection_meta: the byte layout is pinned and every kind of damage is refused
// with DATA_LOSS rather than decoded into a wrong collection.
#include "storage/collection_meta.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::storage {
namespace {

using ::testing::HasSubstr;

CollectionMeta SampleMeta() {
  CollectionMeta meta;
  meta.name = std::string("docs\0v2", 7);  // names are bytes: an embedded NUL must survive
  meta.id = 0x01020304;
  meta.dim = 768;
  meta.metric = Metric::kCosine;
  meta.nesting_dims = {8, 16, 32, 64, 128, 256, 512, 768};
  return meta;
}

void ExpectSameMeta(const CollectionMeta& actual, const CollectionMeta& expected) {
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.dim, expected.dim);
  EXPECT_EQ(actual.metric, expected.metric);
  EXPECT_EQ(actual.nesting_dims, expected.nesting_dims);
}

void ExpectDataLoss(std::string_view bytes, std::string_view message) {
  absl::StatusOr<CollectionMeta> decoded = DecodeCollectionMeta(bytes);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << decoded.status();
  EXPECT_THAT(decoded.status().message(), HasSubstr(message));
}

TEST(CollectionMetaTest, RoundTrips) {
  std::vector<CollectionMeta> metas;
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    metas.push_back(SampleMeta());
    metas.back().metric = metric;
  }
  metas.emplace_back();  // empty name and no nesting dims
  for (const CollectionMeta& meta : metas) {
    absl::StatusOr<CollectionMeta> decoded = DecodeCollectionMeta(EncodeCollectionMeta(meta));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ExpectSameMeta(*decoded, meta);
  }
}

TEST(CollectionMetaTest, LayoutIsVersionedLittleEndian) {
  CollectionMeta meta;
  meta.name = "ab";
  meta.id = 0x01020304;
  meta.dim = 0x0100;
  meta.metric = Metric::kInnerProduct;
  meta.nesting_dims = {0x10, 0x0100};
  const std::string expected(
      "\x01"  // encoding version
      "\x02\x00\x00\x00"
      "ab"                // name
      "\x04\x03\x02\x01"  // id
      "\x00\x01\x00\x00"  // dim
      "\x02"              // metric
      "\x02\x00\x00\x00"  // nesting dims count
      "\x10\x00\x00\x00"
      "\x00\x01\x00\x00",
      28);
  EXPECT_EQ(EncodeCollectionMeta(meta), expected);
}

TEST(CollectionMetaTest, RejectsEveryTruncation) {
  const std::string bytes = EncodeCollectionMeta(SampleMeta());
  for (size_t size = 0; size < bytes.size(); ++size) {
    SCOPED_TRACE(size);
    ExpectDataLoss(std::string_view(bytes).substr(0, size), "truncated");
  }
}

TEST(CollectionMetaTest, RejectsTrailingBytes) {
  ExpectDataLoss(EncodeCollectionMeta(SampleMeta()) + '\0', "trailing");
}

TEST(CollectionMetaTest, RejectsUnknownVersion) {
  for (char version : {'\x00', '\x02', '\xff'}) {
    std::string bytes = EncodeCollectionMeta(SampleMeta());
    bytes[0] = version;
    ExpectDataLoss(bytes, "unknown encoding version");
  }
}

TEST(CollectionMetaTest, RejectsInvalidMetricCode) {
  const CollectionMeta meta = SampleMeta();
  const size_t metric_offset = 1 + 4 + meta.name.size() + 4 + 4;
  for (char code : {'\x00', '\x04', '\xff'}) {
    std::string bytes = EncodeCollectionMeta(meta);
    bytes[metric_offset] = code;
    ExpectDataLoss(bytes, "metric");
  }
}

TEST(CollectionMetaTest, RejectsNestingCountBeyondTheBytes) {
  const CollectionMeta meta = SampleMeta();
  std::string bytes = EncodeCollectionMeta(meta);
  const size_t count_offset = 1 + 4 + meta.name.size() + 4 + 4 + 1;
  bytes.replace(count_offset, 4, "\xff\xff\xff\xff", 4);  // must not allocate 16 GiB first
  ExpectDataLoss(bytes, "truncated");
}

TEST(CollectionMetaTest, RejectsNameLengthBeyondTheBytes) {
  std::string bytes = EncodeCollectionMeta(SampleMeta());
  bytes.replace(1, 4, "\x00\x00\x00\x10", 4);
  ExpectDataLoss(bytes, "truncated");
}

}  // namespace
}  // namespace adanns::storage
