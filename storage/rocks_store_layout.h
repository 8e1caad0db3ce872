// RocksStore's on-disk layout shared by its source files: column family positions and names, and
// the keys of the per-(collection, name) values (index blobs, settings). Internal to storage/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/string_view.h"

namespace adanns::storage::layout {

// Positions in handles_; column families a newer build added are opened after these.
inline constexpr size_t kDefaultCf = 0;
inline constexpr size_t kCollectionsCf = 1;
inline constexpr size_t kVectorsCf = 2;
inline constexpr size_t kIndexBlobsCf = 3;
inline constexpr size_t kSettingsCf = 4;
inline constexpr const char* kCollectionsCfName = "collections";
inline constexpr const char* kVectorsCfName = "vectors";
inline constexpr const char* kIndexBlobsCfName = "index_blobs";
inline constexpr const char* kSettingsCfName = "settings";

inline void AppendU32BigEndian(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

// Vectors: 4-byte big-endian collection id, then the 8-byte big-endian vector id (so a
// collection's keys are contiguous and sort by id).
inline constexpr size_t kVectorKeySize = 12;

inline std::string VectorKey(uint32_t collection_id, uint64_t id) {
  std::string key;
  key.reserve(kVectorKeySize);
  AppendU32BigEndian(collection_id, &key);
  AppendU32BigEndian(static_cast<uint32_t>(id >> 32), &key);
  AppendU32BigEndian(static_cast<uint32_t>(id), &key);
  return key;
}

inline uint64_t VectorIdFromKey(std::string_view key) {
  uint64_t id = 0;
  for (size_t i = 4; i < kVectorKeySize; ++i) id = (id << 8) | static_cast<uint8_t>(key[i]);
  return id;
}

// Index blobs and settings of a collection: 4-byte big-endian collection id, then the name.
inline std::string NamedKey(uint32_t collection_id, absl::string_view name) {
  std::string key;
  AppendU32BigEndian(collection_id, &key);
  key.append(name.data(), name.size());
  return key;
}

// [begin, end) holds every named key of the collection.
inline std::pair<std::string, std::string> NamedKeyRange(uint32_t collection_id) {
  std::string begin;
  AppendU32BigEndian(collection_id, &begin);
  std::string end = begin;
  end.push_back('\xff');
  end.push_back('\xff');
  return {std::move(begin), std::move(end)};
}

}  // namespace adanns::storage::layout
