// Byte-level helpers shared by the index and codebook serializers: little-endian POD append/read
// and the framing every blob uses (8-byte magic, body, CRC-32 of magic and body).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/metric.h"

namespace adanns {

template <typename T>
void AppendPod(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// CRC-32 (zlib's) of `bytes`.
uint32_t Crc32(std::string_view bytes);

// Appends the CRC-32 of everything in `out` (magic included).
inline void SealBlob(std::string& out) { AppendPod(out, Crc32(out)); }

// Checks the magic and the trailing CRC-32; returns the body between them. DATA_LOSS names `what`.
inline absl::StatusOr<std::string_view> OpenBlob(std::string_view bytes, const char (&magic)[8],
                                                 std::string_view what) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat(absl::string_view(what.data(), what.size()),
                     " blob rejected: ", absl::string_view(why.data(), why.size())));
  };
  if (bytes.size() < sizeof(magic) + sizeof(uint32_t) ||
      std::memcmp(bytes.data(), magic, sizeof(magic)) != 0) {
    return corrupt("too short, or wrong magic bytes");
  }
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - sizeof(uint32_t), sizeof(uint32_t));
  const std::string_view sealed = bytes.substr(0, bytes.size() - sizeof(uint32_t));
  if (Crc32(sealed) != stored_crc) return corrupt("checksum mismatch");
  return sealed.substr(sizeof(magic));
}

// Sequential reads from a blob body; every Get fails (false) rather than read past the end.
class BlobReader {
 public:
  explicit BlobReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T* value) {
    if (bytes_.size() - offset_ < sizeof(T)) return false;
    std::memcpy(value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return true;
  }
  bool GetFloats(size_t count, std::vector<float>* out) {
    if ((bytes_.size() - offset_) / sizeof(float) < count) return false;
    out->resize(count);
    std::memcpy(out->data(), bytes_.data() + offset_, count * sizeof(float));
    offset_ += count * sizeof(float);
    return true;
  }
  // The next `count` bytes, or false.
  bool GetBytes(size_t count, std::string_view* out) {
    if (bytes_.size() - offset_ < count) return false;
    *out = bytes_.substr(offset_, count);
    offset_ += count;
    return true;
  }
  bool done() const { return offset_ == bytes_.size(); }
  // Bytes not read yet: bounds counts read from the blob before anything is sized by them.
  size_t remaining() const { return bytes_.size() - offset_; }

 private:
  std::string_view bytes_;
  size_t offset_ = 0;
};

// The header of every index blob after its magic: format version, metric and dim.
inline void AppendIndexHeader(std::string& out, uint32_t version, Metric metric, uint32_t dim) {
  AppendPod(out, version);
  AppendPod(out, static_cast<uint8_t>(metric));
  AppendPod(out, dim);
}

// DATA_LOSS ("<what> blob rejected: ...") unless the header has `version` and matches the
// collection's metric and dim.
inline absl::Status ReadIndexHeader(BlobReader& reader, uint32_t version, Metric metric,
                                    uint32_t dim, std::string_view what) {
  const absl::string_view kind(what.data(), what.size());
  uint32_t stored_version = 0, stored_dim = 0;
  uint8_t metric_code = 0;
  if (!reader.Get(&stored_version) || stored_version != version) {
    return absl::DataLossError(
        absl::StrCat(kind, " blob rejected: unknown format version ", stored_version));
  }
  if (!reader.Get(&metric_code) || !reader.Get(&stored_dim)) {
    return absl::DataLossError(absl::StrCat(kind, " blob rejected: truncated header"));
  }
  if (metric_code != static_cast<uint8_t>(metric) || stored_dim != dim) {
    return absl::DataLossError(
        absl::StrCat(kind, " blob rejected: metric or dim differ from the collection's"));
  }
  return absl::OkStatus();
}

}  // namespace adanns
