// Versioned little-endian encoding of CollectionMeta:
//   u8 version | u32 name_len | name | u32 id | u32 dim | u8 metric | u32 n | n x u32 nesting dim
#include "storage/collection_meta.h"

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace adanns::storage {
namespace {

constexpr uint8_t kMetaEncodingVersion = 1;

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

std::string EncodeCollectionMeta(const CollectionMeta& meta) {
  std::string out;
  out.reserve(1 + 4 + meta.name.size() + 4 + 4 + 1 + 4 + 4 * meta.nesting_dims.size());
  out.push_back(static_cast<char>(kMetaEncodingVersion));
  PutU32(static_cast<uint32_t>(meta.name.size()), &out);
  out.append(meta.name);
  PutU32(meta.id, &out);
  PutU32(meta.dim, &out);
  out.push_back(static_cast<char>(meta.metric));
  PutU32(static_cast<uint32_t>(meta.nesting_dims.size()), &out);
  for (uint32_t nesting_dim : meta.nesting_dims) PutU32(nesting_dim, &out);
  return out;
}

absl::StatusOr<CollectionMeta> DecodeCollectionMeta(std::string_view bytes) {
  Reader reader(bytes);
  const std::optional<uint8_t> version = reader.U8();
  if (!version) return Truncated("the encoding version");
  if (*version != kMetaEncodingVersion) {
    return absl::DataLossError(absl::StrCat(
        "collection metadata has unknown encoding version ", static_cast<int>(*version),
        " (this build reads version ", static_cast<int>(kMetaEncodingVersion), ")"));
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
  if (reader.remaining() != 0) {
    return absl::DataLossError(
        absl::StrCat("collection metadata has ", reader.remaining(), " unexpected trailing bytes"));
  }
  return meta;
}

}  // namespace adanns::storage
