// Test helpers for client/: a fresh temp directory per test, raw-byte file writers (for
// hand-crafted and damaged files), chunked reads, and status messages as std::string.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/readers/vector_reader.h"
#include "gtest/gtest.h"

namespace adanns::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "adanns_client_XXXXXX";
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_FALSE(path_.empty()) << "mkdtemp failed";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Appends the little-endian bytes of `value`.
template <typename T>
void AppendRaw(std::string& bytes, const T& value) {
  bytes.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// Every remaining row of a reader, read `rows_per_read` rows at a time.
struct ChunkedRead {
  absl::Status status;
  std::vector<float> values;       // row-major
  std::vector<size_t> read_sizes;  // rows returned by each non-empty Read()
};

inline ChunkedRead ReadInChunks(readers::VectorReader& reader, size_t rows_per_read) {
  ChunkedRead result;
  std::vector<float> chunk(rows_per_read * reader.dim());
  while (true) {
    absl::StatusOr<size_t> got = reader.Read(rows_per_read, chunk.data());
    if (!got.ok()) {
      result.status = got.status();
      break;
    }
    if (*got == 0) {
      break;
    }
    result.read_sizes.push_back(*got);
    result.values.insert(result.values.end(), chunk.begin(), chunk.begin() + *got * reader.dim());
  }
  return result;
}

// absl::string_view prints as a char array in gmock failures; a std::string prints as text.
inline std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

}  // namespace adanns::testing
