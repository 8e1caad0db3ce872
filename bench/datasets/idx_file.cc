#include "bench/datasets/idx_file.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace adanns::bench {
namespace {

// idx magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions.
constexpr uint32_t kIdx3UbyteMagic = 0x00000803;
// Caps the payload so a corrupt header cannot ask for an absurd allocation (MNIST is 47 MB).
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 32;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

uint32_t BigEndian32(const unsigned char* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

// Reads exactly `size` bytes; returns the number actually read (less at end of file) or -1.
int64_t ReadFully(gzFile file, void* out, size_t size) {
  auto* dst = static_cast<unsigned char*>(out);
  size_t done = 0;
  while (done < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, INT_MAX / 2));
    const int got = gzread(file, dst + done, chunk);
    if (got < 0) return -1;
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return static_cast<int64_t>(done);
}

}  // namespace

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open idx file ", path));
  }
  std::array<unsigned char, 16> header{};
  if (ReadFully(file.get(), header.data(), header.size()) != static_cast<int64_t>(header.size())) {
    return absl::DataLossError(absl::StrCat(path, ": shorter than the 16-byte idx3 header"));
  }
  const uint32_t magic = BigEndian32(header.data());
  if (magic != kIdx3UbyteMagic) {
    return absl::DataLossError(absl::StrCat(path, ": idx magic 0x",
                                            absl::Hex(magic, absl::kZeroPad8),
                                            ", want 0x00000803 (unsigned byte, 3 dimensions)"));
  }
  IdxImages images;
  images.count = BigEndian32(header.data() + 4);
  images.rows = BigEndian32(header.data() + 8);
  images.cols = BigEndian32(header.data() + 12);
  const uint64_t payload = uint64_t{images.count} * images.rows * images.cols;
  if (images.count == 0 || images.rows == 0 || images.cols == 0 || payload > kMaxPayloadBytes) {
    return absl::DataLossError(absl::StrCat(path, ": implausible idx3 dimensions ", images.count,
                                            " x ", images.rows, " x ", images.cols));
  }
  images.pixels.resize(payload);
  const int64_t got = ReadFully(file.get(), images.pixels.data(), payload);
  if (got < 0) {
    int errnum = 0;
    const char* message = gzerror(file.get(), &errnum);
    return absl::DataLossError(absl::StrCat(path, ": read failed: ", message));
  }
  if (static_cast<uint64_t>(got) != payload) {
    return absl::DataLossError(absl::StrCat(path, ": truncated: header promises ", payload,
                                            " pixel bytes, file holds ", got));
  }
  unsigned char extra = 0;
  if (ReadFully(file.get(), &extra, 1) != 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": trailing bytes after ", payload, " pixel bytes"));
  }
  return images;
}

}  // namespace adanns::bench
