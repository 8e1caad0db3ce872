// Reads gzip-compressed idx3-ubyte image files (the MNIST / Fashion-MNIST distribution format)
// into memory, validating the magic number, the dimensions and the payload length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace adanns::bench {

// A stack of 8-bit greyscale images, row-major: pixels[i * rows * cols + r * cols + c].
struct IdxImages {
  uint32_t count = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::vector<uint8_t> pixels;

  size_t pixels_per_image() const { return static_cast<size_t>(rows) * cols; }
};

// Reads an idx3-ubyte file, gzip-compressed or plain (zlib reads both). Fails with NOT_FOUND when
// the file cannot be opened and DATA_LOSS when the header or the payload length is wrong.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);

}  // namespace adanns::bench
