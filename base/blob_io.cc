// Crc32: zlib's, kept out of the header so base/'s users need no zlib.
#include "base/blob_io.h"

#include <zlib.h>

namespace adanns {

uint32_t Crc32(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

}  // namespace adanns
