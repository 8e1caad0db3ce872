// The per-element structures every hnswlib graph carries besides its level-0 record and upper
// link lists, charged alike to the hnswlib baseline and to adanns-hnsw (which keeps its graph in
// hnswlib's HierarchicalNSW too), so their bytes-per-vector columns count the same things.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace adanns::bench {

// A pointer to the element's upper-level link list (linkLists_), its level (element_levels_),
// its lock (link_list_locks_), and its entry in the label -> id std::unordered_map (a 24-byte
// node rounded up by malloc, plus a bucket pointer).
inline void AddHnswElementOverhead(std::map<std::string, double>& bytes_per_vector) {
  bytes_per_vector["link_list_pointer"] = sizeof(char*);
  bytes_per_vector["element_level"] = sizeof(int);
  bytes_per_vector["locks"] = sizeof(std::mutex);
  bytes_per_vector["label_map"] = 40;
}

}  // namespace adanns::bench
