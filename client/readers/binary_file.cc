#include "client/readers/binary_file.h"

#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace adanns::readers {

void FileCloser::operator()(std::FILE* file) const {
  if (file != nullptr) {
    std::fclose(file);
  }
}

absl::StatusOr<BinaryInputFile> BinaryInputFile::Open(const std::string& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  struct stat info;
  if (fstat(fileno(file.get()), &info) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat ", path));
  }
  // fopen succeeds on directories on Linux; fail here rather than on the first read.
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  return BinaryInputFile(path, std::move(file), static_cast<uint64_t>(info.st_size));
}

absl::Status BinaryInputFile::ReadExact(void* out, size_t bytes, absl::string_view what) {
  const size_t got = std::fread(out, 1, bytes, file_.get());
  position_ += got;
  if (got == bytes) {
    return absl::OkStatus();
  }
  if (std::ferror(file_.get())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", what, " of ", path_));
  }
  return absl::InvalidArgumentError(absl::StrCat(path_, " is truncated: ", what, " needs ", bytes,
                                                 " bytes at offset ", position_ - got, ", only ",
                                                 got, " remain"));
}

absl::Status BinaryInputFile::Seek(uint64_t offset) {
  if (fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot seek in ", path_));
  }
  position_ = offset;
  return absl::OkStatus();
}

absl::StatusOr<BinaryOutputFile> BinaryOutputFile::Create(const std::string& path) {
  FilePtr file(std::fopen(path.c_str(), "wb"));
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
  }
  return BinaryOutputFile(path, std::move(file));
}

absl::Status BinaryOutputFile::Write(const void* data, size_t bytes) {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, " is already closed"));
  }
  if (std::fwrite(data, 1, bytes, file_.get()) != bytes) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", path_));
  }
  return absl::OkStatus();
}

absl::Status BinaryOutputFile::Seek(uint64_t offset) {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, " is already closed"));
  }
  if (fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot seek in ", path_));
  }
  return absl::OkStatus();
}

absl::Status BinaryOutputFile::Close() {
  if (file_ == nullptr) {
    return absl::OkStatus();
  }
  // fclose flushes; its result is the last chance to see a full disk.
  const int result = std::fclose(file_.release());
  if (result != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot finish writing ", path_));
  }
  return absl::OkStatus();
}

}  // namespace adanns::readers
