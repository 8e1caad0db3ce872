// Versioned little-endian encoding of CollectionMeta:
//   version 1: u8 version | u32 name_len | name | u32 id | u32 dim | u8 metric
//              | u32 n | n x u32 nesting dim
//   version 2: the same, then | u32 resident_dims | u8 resident precision
// Version 1 is still written for a collection without memory tiers (and always read, as
// resident_dims 0 and float32), so stores that do not use tiers stay readable by older builds.
#include "storage/collection_meta.h"

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace adanns::storage {
namespace {

// Versions this build reads; it writes the oldest one that can hold the collection.
constexpr uint8_t kMetaEncodingV1 = 1;
constexpr uint8_t kMetaEncodingV2 = 2;  // adds resident_dims and resident_precision

void PutU32(uint32_t value, std::string* out) {
  for (int shift = 0; shift < 32; shift += 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// Consumes bytes from the front of its input; every read reports whether enough bytes were left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  std::optional<uint8_t> U8() {
    if (bytes_.empty()) return std::nullopt;
    const auto value = static_cast<uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return value;
  }
  std::optional<uint32_t> U32() {
    if (bytes_.size() < 4) return std::nullopt;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    }
    bytes_.remove_prefix(4);
    return value;
  }
  std::optional<std::string_view> Bytes(size_t n) {
    if (bytes_.size() < n) return std::nullopt;
    std::string_view value = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return value;
  }
  size_t remaining() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

absl::Status Truncated(absl::string_view field) {
  return absl::DataLossError(absl::StrCat("collection metadata truncated while reading ", field));
}

}  // namespace

std::optional<ResidentPrecision> ResidentPrecisionFromCode(uint8_t code) {
  if (code <= static_cast<uint8_t>(ResidentPrecision::kInt8)) {
    return static_cast<ResidentPrecision>(code);
  }
  return std::nullopt;
}

std::string EncodeCollectionMeta(const CollectionMeta& meta) {
  const bool tiered =
      meta.resident_dims != 0 || meta.resident_precision != ResidentPrecision::kFloat32;
  std::string out;
  out.reserve(1 + 4 + meta.name.size() + 4 + 4 + 1 + 4 + 4 * meta.nesting_dims.size() + 4 + 1);
  out.push_back(static_cast<char>(tiered ? kMetaEncodingV2 : kMetaEncodingV1));
  PutU32(static_cast<uint32_t>(meta.name.size()), &out);
  out.append(meta.name);
  PutU32(meta.id, &out);
  PutU32(meta.dim, &out);
  out.push_back(static_cast<char>(meta.metric));
  PutU32(static_cast<uint32_t>(meta.nesting_dims.size()), &out);
  for (uint32_t nesting_dim : meta.nesting_dims) PutU32(nesting_dim, &out);
  if (tiered) {
    PutU32(meta.resident_dims, &out);
    out.push_back(static_cast<char>(meta.resident_precision));
  }
  return out;
}

absl::StatusOr<CollectionMeta> DecodeCollectionMeta(std::string_view bytes) {
  Reader reader(bytes);
  const std::optional<uint8_t> version = reader.U8();
  if (!version) return Truncated("the encoding version");
  if (*version != kMetaEncodingV1 && *version != kMetaEncodingV2) {
    return absl::DataLossError(absl::StrCat(
        "collection metadata has unknown encoding version ", static_cast<int>(*version),
        " (this build reads versions ", static_cast<int>(kMetaEncodingV1), " to ",
        static_cast<int>(kMetaEncodingV2), ")"));
  }
  CollectionMeta meta;
  const std::optional<uint32_t> name_size = reader.U32();
  if (!name_size) return Truncated("the name length");
  const std::optional<std::string_view> name = reader.Bytes(*name_size);
  if (!name) return Truncated("the name");
  meta.name = std::string(*name);
  const std::optional<uint32_t> id = reader.U32();
  if (!id) return Truncated("the id");
  meta.id = *id;
  const std::optional<uint32_t> dim = reader.U32();
  if (!dim) return Truncated("the dimension");
  meta.dim = *dim;
  const std::optional<uint8_t> metric_code = reader.U8();
  if (!metric_code) return Truncated("the metric");
  const std::optional<Metric> metric = MetricFromCode(*metric_code);
  if (!metric) {
    return absl::DataLossError(absl::StrCat("collection metadata has invalid metric code ",
                                            static_cast<int>(*metric_code)));
  }
  meta.metric = *metric;
  const std::optional<uint32_t> nesting_count = reader.U32();
  if (!nesting_count) return Truncated("the nesting dims count");
  // Checked before reserving so a corrupt count cannot trigger a huge allocation.
  if (reader.remaining() / 4 < *nesting_count) return Truncated("the nesting dims");
  meta.nesting_dims.reserve(*nesting_count);
  for (uint32_t i = 0; i < *nesting_count; ++i) meta.nesting_dims.push_back(*reader.U32());
  if (*version >= kMetaEncodingV2) {
    const std::optional<uint32_t> resident_dims = reader.U32();
    if (!resident_dims) return Truncated("the resident dims");
    if (*resident_dims > meta.dim) {
      return absl::DataLossError(absl::StrCat("collection metadata has resident_dims ",
                                              *resident_dims, " above its dim ", meta.dim));
    }
    meta.resident_dims = *resident_dims;
    const std::optional<uint8_t> precision_code = reader.U8();
    if (!precision_code) return Truncated("the resident precision");
    const std::optional<ResidentPrecision> precision = ResidentPrecisionFromCode(*precision_code);
    if (!precision) {
      return absl::DataLossError(
          absl::StrCat("collection metadata has invalid resident precision code ",
                       static_cast<int>(*precision_code)));
    }
    meta.resident_precision = *precision;
  }
  if (reader.remaining() != 0) {
    return absl::DataLossError(
        absl::StrCat("collection metadata has ", reader.remaining(), " unexpected trailing bytes"));
  }
  return meta;
}

}  // namespace adanns::storage
