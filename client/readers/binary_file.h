// Thin stdio wrappers for binary files whose errors name the file and what was being read, so
// every reader and writer reports missing, unreadable and truncated files the same way.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace adanns::readers {

struct FileCloser {
  void operator()(std::FILE* file) const;
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// A regular file opened for reading. Errors: NOT_FOUND / PERMISSION_DENIED (from errno) when it
// cannot be opened, INVALID_ARGUMENT when it is a directory or ends early.
class BinaryInputFile {
 public:
  static absl::StatusOr<BinaryInputFile> Open(const std::string& path);

  const std::string& path() const { return path_; }
  // Size in bytes when the file was opened.
  uint64_t size() const { return size_; }
  uint64_t position() const { return position_; }

  // Reads exactly `bytes`; `what` names the data in the error ("row 12", "header").
  absl::Status ReadExact(void* out, size_t bytes, absl::string_view what);
  absl::Status Seek(uint64_t offset);

 private:
  BinaryInputFile(std::string path, FilePtr file, uint64_t size)
      : path_(std::move(path)), file_(std::move(file)), size_(size) {}

  std::string path_;
  FilePtr file_;
  uint64_t size_ = 0;
  uint64_t position_ = 0;
};

// A file created (or truncated) for writing. Close() must be called to learn whether the data
// reached the file system; the destructor closes silently.
class BinaryOutputFile {
 public:
  static absl::StatusOr<BinaryOutputFile> Create(const std::string& path);

  const std::string& path() const { return path_; }
  absl::Status Write(const void* data, size_t bytes);
  absl::Status Seek(uint64_t offset);
  absl::Status Close();

 private:
  BinaryOutputFile(std::string path, FilePtr file)
      : path_(std::move(path)), file_(std::move(file)) {}

  std::string path_;
  FilePtr file_;
};

}  // namespace adanns::readers
