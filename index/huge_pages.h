// Transparent huge pages for the large, randomly read arrays (vector rows, graph nodes). With 4 KiB
// pages every row of a prefix scan or node of a graph walk is a TLB miss (rows are 3 KiB apart);
// 2 MiB pages remove most of them. Debian's default THP mode is "madvise", so memory must ask.
#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace adanns::index {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Whether AdviseHugePages asks for huge pages (the default) or refuses them. The benchmark's
// --huge-pages=none turns it off so that no method, ours included, gets them.
inline std::atomic<bool>& HugePagesWanted() {
  static std::atomic<bool> wanted{true};
  return wanted;
}

// Marks the whole 2 MiB pages inside [data, data + bytes) for huge pages (MADV_NOHUGEPAGE when
// HugePagesWanted() is off). Untouched pages then fault in as huge pages; touched ones are
// collapsed later by khugepaged. Best effort: errors (no THP support) are ignored.
inline void AdviseHugePages(const void* data, size_t bytes) {
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePageBytes - 1);
  if (last > first) {
    (void)madvise(
        reinterpret_cast<void*>(first), last - first,
        HugePagesWanted().load(std::memory_order_relaxed) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  }
}

// Writes one byte into every page of [data, data + bytes), which the caller owns and nobody reads
// yet: the kernel then backs them (zeroing a fresh 4 KiB or 2 MiB page) now, not at the first
// write of a later exclusive hold. On the 2-core dev VM a first touch costs about 2 ms per 768 KiB
// of 4 KiB pages and up to 4.5 ms per 2 MiB page, against 0.04 ms for the same copy once touched.
inline void PrefaultPages(void* data, size_t bytes) {
  constexpr size_t kPageBytes = 4096;
  auto* const first = static_cast<volatile uint8_t*>(data);
  for (size_t offset = 0; offset < bytes; offset += kPageBytes) first[offset] = 0;
  if (bytes > 0) first[bytes - 1] = 0;
}

// std::allocator that places allocations of 2 MiB or more on huge-page-aligned, advised memory
// before anything touches it.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) return std::allocator<T>().allocate(n);
    const size_t rounded = (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
    void* data = std::aligned_alloc(kHugePageBytes, rounded);
    if (data == nullptr) throw std::bad_alloc();
    AdviseHugePages(data, rounded);
    return static_cast<T*>(data);
  }
  void deallocate(T* data, size_t n) {
    if (n * sizeof(T) < kHugePageBytes) {
      std::allocator<T>().deallocate(data, n);
    } else {
      std::free(data);
    }
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

}  // namespace adanns::index
