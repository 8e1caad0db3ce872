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
  EXPECT_EQ(actual.resident_dims, expected.resident_dims);
  EXPECT_EQ(actual.resident_precision, expected.resident_precision);
}

// SampleMeta with memory tiers: encoded as version 2.
CollectionMeta TieredMeta() {
  CollectionMeta meta = SampleMeta();
  meta.resident_dims = 128;
  meta.resident_precision = ResidentPrecision::kFloat16;
  return meta;
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

TEST(CollectionMetaTest, RoundTripsWithTiers) {
  std::vector<CollectionMeta> metas;
  for (ResidentPrecision precision :
       {ResidentPrecision::kFloat32, ResidentPrecision::kFloat16, ResidentPrecision::kInt8}) {
    for (uint32_t resident_dims : {0u, 1u, 64u, 768u}) {  // 768 == dim: the upper bound
      metas.push_back(SampleMeta());
      metas.back().resident_dims = resident_dims;
      metas.back().resident_precision = precision;
    }
  }
  for (const CollectionMeta& meta : metas) {
    SCOPED_TRACE(::testing::Message() << meta.resident_dims << " dims, precision "
                                      << static_cast<int>(meta.resident_precision));
    absl::StatusOr<CollectionMeta> decoded = DecodeCollectionMeta(EncodeCollectionMeta(meta));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ExpectSameMeta(*decoded, meta);
  }
}

TEST(CollectionMetaTest, TieredLayoutAppendsResidentDimsAndPrecision) {
  CollectionMeta meta;
  meta.name = "ab";
  meta.id = 0x01020304;
  meta.dim = 0x0100;
  meta.metric = Metric::kL2;
  meta.nesting_dims = {0x10};
  meta.resident_dims = 0x0080;
  meta.resident_precision = ResidentPrecision::kInt8;
  const std::string expected(
      "\x02"  // encoding version
      "\x02\x00\x00\x00"
      "ab"                // name
      "\x04\x03\x02\x01"  // id
      "\x00\x01\x00\x00"  // dim
      "\x01"              // metric
      "\x01\x00\x00\x00"  // nesting dims count
      "\x10\x00\x00\x00"
      "\x80\x00\x00\x00"  // resident dims
      "\x02",             // resident precision
      29);
  EXPECT_EQ(EncodeCollectionMeta(meta), expected);
}

TEST(CollectionMetaTest, WithoutTiersWritesVersion1) {
  // Older builds read only version 1: a store that uses no tiers must stay readable by them.
  EXPECT_EQ(EncodeCollectionMeta(SampleMeta())[0], '\x01');
  CollectionMeta precision_only = SampleMeta();
  precision_only.resident_precision = ResidentPrecision::kFloat16;  // all dims resident, fp16
  EXPECT_EQ(EncodeCollectionMeta(precision_only)[0], '\x02');
}

TEST(CollectionMetaTest, DecodesHandWrittenVersion1Bytes) {
  // Bytes exactly as the version-1-only build wrote them, not produced by the encoder under test.
  const std::string v1(
      "\x01"
      "\x03\x00\x00\x00"
      "old"
      "\x07\x00\x00\x00"  // id 7
      "\x40\x00\x00\x00"  // dim 64
      "\x03"              // cosine
      "\x02\x00\x00\x00"  // two nesting dims
      "\x20\x00\x00\x00"
      "\x40\x00\x00\x00",
      29);
  absl::StatusOr<CollectionMeta> decoded = DecodeCollectionMeta(v1);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->name, "old");
  EXPECT_EQ(decoded->id, 7u);
  EXPECT_EQ(decoded->dim, 64u);
  EXPECT_EQ(decoded->metric, Metric::kCosine);
  EXPECT_EQ(decoded->nesting_dims, (std::vector<uint32_t>{32, 64}));
  EXPECT_EQ(decoded->resident_dims, 0u);
  EXPECT_EQ(decoded->resident_precision, ResidentPrecision::kFloat32);
}

TEST(CollectionMetaTest, RejectsEveryTruncation) {
  for (const CollectionMeta& meta : {SampleMeta(), TieredMeta()}) {
    const std::string bytes = EncodeCollectionMeta(meta);
    for (size_t size = 0; size < bytes.size(); ++size) {
      SCOPED_TRACE(size);
      ExpectDataLoss(std::string_view(bytes).substr(0, size), "truncated");
    }
  }
}

TEST(CollectionMetaTest, RejectsResidentDimsAboveDim) {
  const CollectionMeta meta = TieredMeta();
  std::string bytes = EncodeCollectionMeta(meta);
  const size_t resident_offset = bytes.size() - 5;
  bytes.replace(resident_offset, 4, "\x01\x03\x00\x00", 4);  // 769 > dim 768
  ExpectDataLoss(bytes, "resident_dims 769 above its dim 768");
  bytes.replace(resident_offset, 4, "\xff\xff\xff\xff", 4);
  ExpectDataLoss(bytes, "resident_dims");
}

TEST(CollectionMetaTest, RejectsInvalidResidentPrecisionCode) {
  for (char code : {'\x03', '\x7f', '\xff'}) {
    std::string bytes = EncodeCollectionMeta(TieredMeta());
    bytes.back() = code;
    ExpectDataLoss(bytes, "resident precision");
  }
  EXPECT_FALSE(ResidentPrecisionFromCode(3).has_value());
  EXPECT_EQ(ResidentPrecisionFromCode(2), ResidentPrecision::kInt8);
}

TEST(CollectionMetaTest, RejectsTrailingBytes) {
  ExpectDataLoss(EncodeCollectionMeta(SampleMeta()) + '\0', "trailing");
  ExpectDataLoss(EncodeCollectionMeta(TieredMeta()) + '\0', "trailing");
}

TEST(CollectionMetaTest, RejectsUnknownVersion) {
  for (char version : {'\x00', '\x03', '\xff'}) {
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
