// Structural check of an hnswlib graph image (HierarchicalNSW::saveIndex's format) before
// hnswlib loads it: hnswlib trusts every size, count and link it reads, and our search loop walks
// the links unchecked, so a blob that passed its checksum but holds a bad graph must stop here.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/blob_io.h"

namespace adanns::index {

// OK when `bytes` is a graph hnswlib wrote for `graph_dims`-float prefixes with `m` links per
// upper-layer node (2 * m on the bottom layer) and ef_construction `ef_construction`: sizes match
// the parameters, every link count fits its layer, every link names a node that has that layer,
// the entry point is a node of the top layer, labels are unique and prefixes finite. Otherwise
// the reason (the caller wraps it in DATA_LOSS).
inline absl::Status CheckHnswGraphBytes(std::string_view bytes, uint32_t graph_dims, uint32_t m,
                                        uint32_t ef_construction) {
  using LinkCount = uint32_t;  // hnswlib's linklistsizeint: a 16-bit count, then flag bytes
  using NodeId = uint32_t;     // hnswlib's tableint
  auto bad = [](absl::string_view why) { return absl::InvalidArgumentError(why); };
  BlobReader reader(bytes);
  size_t offset_level0 = 0, max_elements = 0, count = 0, size_per_element = 0, label_offset = 0,
         offset_data = 0, max_m = 0, max_m0 = 0, stored_m = 0, stored_ef = 0;
  int max_level = 0;
  NodeId entry_point = 0;
  double mult = 0;
  if (!reader.Get(&offset_level0) || !reader.Get(&max_elements) || !reader.Get(&count) ||
      !reader.Get(&size_per_element) || !reader.Get(&label_offset) || !reader.Get(&offset_data) ||
      !reader.Get(&max_level) || !reader.Get(&entry_point) || !reader.Get(&max_m) ||
      !reader.Get(&max_m0) || !reader.Get(&stored_m) || !reader.Get(&mult) ||
      !reader.Get(&stored_ef)) {
    return bad("graph header truncated");
  }
  const size_t links0_bytes = 2 * size_t{m} * sizeof(NodeId) + sizeof(LinkCount);
  const size_t upper_links_bytes = size_t{m} * sizeof(NodeId) + sizeof(LinkCount);
  const size_t data_bytes = size_t{graph_dims} * sizeof(float);
  if (offset_level0 != 0 || stored_m != m || max_m != m || max_m0 != 2 * size_t{m} ||
      offset_data != links0_bytes || label_offset != links0_bytes + data_bytes ||
      size_per_element != label_offset + sizeof(uint64_t) ||
      stored_ef != std::max<size_t>(ef_construction, m) ||
      !(std::abs(mult - 1 / std::log(static_cast<double>(m))) < 1e-9)) {
    return bad("graph layout does not match its parameters");
  }
  // Every node takes size_per_element bytes plus a link-list size: bounds count before use.
  if (count > reader.remaining() / (size_per_element + sizeof(uint32_t)) || max_elements < count) {
    return bad("graph node count does not match its size");
  }
  std::string_view level0;
  if (!reader.GetBytes(count * size_per_element, &level0)) return bad("graph truncated");
  std::vector<int> levels(count, 0);
  std::vector<std::string_view> upper(count);
  for (size_t node = 0; node < count; ++node) {
    uint32_t upper_bytes = 0;
    if (!reader.Get(&upper_bytes) || upper_bytes % upper_links_bytes != 0 ||
        upper_bytes / upper_links_bytes > static_cast<size_t>(std::max(max_level, 0)) ||
        !reader.GetBytes(upper_bytes, &upper[node])) {
      return bad("graph upper-layer links truncated or above the top layer");
    }
    levels[node] = static_cast<int>(upper_bytes / upper_links_bytes);
  }
  if (!reader.done()) return bad("trailing bytes after the graph");
  if (count == 0 ? (max_level != -1 || entry_point != static_cast<NodeId>(-1))
                 : (entry_point >= count || levels[entry_point] != max_level)) {
    return bad("graph entry point is not a node of the top layer");
  }

  // One layer's link list: a count within `capacity`, then that many node ids having `level`.
  auto check_links = [&](const char* list, size_t capacity, int level) {
    uint16_t links = 0;
    std::memcpy(&links, list, sizeof(links));
    if (links > capacity) return false;
    for (size_t i = 0; i < links; ++i) {
      NodeId neighbour = 0;
      std::memcpy(&neighbour, list + sizeof(LinkCount) + i * sizeof(NodeId), sizeof(neighbour));
      if (neighbour >= count || levels[neighbour] < level) return false;
    }
    return true;
  };
  absl::flat_hash_set<uint64_t> labels;
  labels.reserve(count);
  std::vector<float> prefix(graph_dims);
  for (size_t node = 0; node < count; ++node) {
    const char* element = level0.data() + node * size_per_element;
    if (!check_links(element, 2 * size_t{m}, 0)) return bad("graph bottom-layer link is invalid");
    for (int level = 1; level <= levels[node]; ++level) {
      if (!check_links(upper[node].data() + (level - 1) * upper_links_bytes, m, level)) {
        return bad("graph upper-layer link is invalid");
      }
    }
    std::memcpy(prefix.data(), element + offset_data, data_bytes);
    for (float x : prefix) {
      if (!std::isfinite(x)) return bad("graph holds a non-finite prefix");
    }
    uint64_t label = 0;
    std::memcpy(&label, element + label_offset, sizeof(label));
    if (!labels.insert(label).second) return bad("graph holds a label twice");
  }

  return absl::OkStatus();
}

}  // namespace adanns::index
