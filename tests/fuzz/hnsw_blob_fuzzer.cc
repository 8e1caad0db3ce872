// libFuzzer target: index::HnswIndex::Deserialize on arbitrary bytes (and with the checksum fixed).
#include <cstddef>
#include <cstdint>

#include "index/hnsw_index.h"
#include "tests/fuzz/index_blob_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  adanns::fuzz::FuzzIndexBlob<adanns::index::HnswIndex>(data, size);
  return 0;
}
