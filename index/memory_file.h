// An anonymous in-memory file (memfd) with a /proc path, for libraries that read and write only
// by path (hnswlib's saveIndex / loadIndex): bytes in and out without touching a disk.
#pragma once

#include <string>
#include <string_view>

namespace adanns::index {

class MemoryFile {
 public:
  explicit MemoryFile(const char* name);
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // False when the memfd could not be created; nothing else may be called then.
  bool ok() const { return fd_ >= 0; }
  // "/proc/self/fd/N": opening it reopens this file.
  std::string path() const;
  // Writes `bytes` from offset 0; false on an I/O error.
  bool Write(std::string_view bytes) const;
  // Reads the whole file into `out`; false on an I/O error.
  bool ReadAll(std::string* out) const;

 private:
  int fd_;
};

}  // namespace adanns::index
