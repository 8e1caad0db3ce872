// Heap settings for processes that pass large messages (an ingest's ~4 MB upserts) through
// short-lived buffers: gRPC slices, serialized protobufs, RocksDB WriteBatches and memtable blocks.
#pragma once

#include <malloc.h>

#include <cstddef>

namespace adanns {

// glibc serves blocks above its mmap threshold with mmap and returns them on free, and trims the
// free top of the heap past its trim threshold, so each message faulted in fresh zeroed pages: a
// third of the server's CPU in an ingest and most of the client's (perf: clear_page and its
// faults; on the 2-core dev VM a fresh page costs 2 ms per 768 KiB). Blocks up to 64 MiB come from
// the heap instead and `keep_free_top_bytes` of free heap top is kept for the next message.
// Call first thing in main(), before any thread starts.
inline void KeepMessageBuffersInHeap(size_t keep_free_top_bytes) {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(keep_free_top_bytes));
}

}  // namespace adanns
