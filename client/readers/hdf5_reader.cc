#include "client/readers/hdf5_reader.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace adanns::readers {
namespace {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Hdf5Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Hdf5Id() = default;
  Hdf5Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Hdf5Id(Hdf5Id&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Hdf5Id& operator=(Hdf5Id&& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(closer_, other.closer_);
    return *this;
  }
  Hdf5Id(const Hdf5Id&) = delete;
  Hdf5Id& operator=(const Hdf5Id&) = delete;
  ~Hdf5Id() {
    if (id_ >= 0) {
      closer_(id_);
    }
  }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// HDF5 prints its error stack to stderr by default; we report errors through Status instead.
void SilenceHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// The descriptions on HDF5's error stack (outermost first), then clears it.
std::string Hdf5ErrorDetail() {
  std::vector<std::string> descriptions;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        if (error->desc != nullptr && error->desc[0] != '\0') {
          static_cast<std::vector<std::string>*>(data)->push_back(error->desc);
        }
        return 0;
      },
      &descriptions);
  H5Eclear2(H5E_DEFAULT);
  return descriptions.empty() ? "unknown HDF5 error" : absl::StrJoin(descriptions, ": ");
}

absl::StatusOr<Hdf5Id> OpenHdf5File(const std::string& path) {
  SilenceHdf5Errors();
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an HDF5 file"));
  }
  Hdf5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open HDF5 file ", path, ": ", Hdf5ErrorDetail()));
  }
  return file;
}

std::vector<std::string> RootMemberNames(hid_t file) {
  std::vector<std::string> names;
  H5Literate(
      file, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names);
  H5Eclear2(H5E_DEFAULT);
  return names;
}

std::string DescribeType(hid_t type) {
  const size_t bytes = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return absl::StrCat(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", bytes * 8);
    case H5T_FLOAT:
      return absl::StrCat("float", bytes * 8);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    default:
      return absl::StrCat("HDF5 type class ", static_cast<int>(H5Tget_class(type)));
  }
}

}  // namespace

struct Hdf5Reader::Handles {
  Hdf5Id file;
  Hdf5Id dataset;
  Hdf5Id file_space;
};

Hdf5Reader::Hdf5Reader(std::string path, std::unique_ptr<Handles> handles, uint64_t rows,
                       uint32_t dim)
    : path_(std::move(path)), handles_(std::move(handles)), rows_(rows), dim_(dim) {}

Hdf5Reader::~Hdf5Reader() = default;

absl::StatusOr<std::unique_ptr<Hdf5Reader>> Hdf5Reader::Open(const std::string& path,
                                                             const std::string& dataset) {
  auto handles = std::make_unique<Handles>();
  ASSIGN_OR_RETURN(handles->file, OpenHdf5File(path));
  const std::string where = absl::StrCat("dataset '", dataset, "' of ", path);
  if (H5Lexists(handles->file.get(), dataset.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return absl::NotFoundError(absl::StrCat(
        path, " has no dataset '", dataset,
        "' (its root has: ", absl::StrJoin(RootMemberNames(handles->file.get()), ", "), ")"));
  }
  handles->dataset = Hdf5Id(H5Dopen2(handles->file.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!handles->dataset.valid()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open ", where, " as a dataset: ", Hdf5ErrorDetail()));
  }
  Hdf5Id type(H5Dget_type(handles->dataset.get()), H5Tclose);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_FLOAT ||
      (H5Tget_size(type.get()) != 4 && H5Tget_size(type.get()) != 8)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " has element type ", DescribeType(type.get()), ": expected float32 or float64"));
  }
  handles->file_space = Hdf5Id(H5Dget_space(handles->dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(handles->file_space.get());
  if (rank != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has ", rank, " dimensions: expected 2 (rows x dim)"));
  }
  hsize_t shape[2];
  H5Sget_simple_extent_dims(handles->file_space.get(), shape, nullptr);
  if (shape[1] == 0 || shape[1] > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has rows of ", shape[1], " values: expected 1 to 2^32-1"));
  }
  return std::unique_ptr<Hdf5Reader>(
      new Hdf5Reader(path, std::move(handles), shape[0], static_cast<uint32_t>(shape[1])));
}

absl::StatusOr<size_t> Hdf5Reader::Read(size_t max_rows, float* out) {
  const size_t count = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - rows_read_));
  if (count == 0) {
    return 0;
  }
  const hsize_t start[2] = {rows_read_, 0};
  const hsize_t block[2] = {count, dim_};
  const hid_t file_space = handles_->file_space.get();
  Hdf5Id memory_space(H5Screate_simple(2, block, nullptr), H5Sclose);
  if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, block, nullptr) < 0 ||
      !memory_space.valid() ||
      H5Dread(handles_->dataset.get(), H5T_NATIVE_FLOAT, memory_space.get(), file_space,
              H5P_DEFAULT, out) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read rows ", rows_read_, "..",
                                                   rows_read_ + count - 1, " of ", path_, ": ",
                                                   Hdf5ErrorDetail()));
  }
  rows_read_ += count;
  return count;
}

absl::StatusOr<std::string> ReadHdf5StringAttribute(const std::string& path,
                                                    const std::string& attribute) {
  ASSIGN_OR_RETURN(Hdf5Id file, OpenHdf5File(path));
  const std::string where = absl::StrCat("attribute '", attribute, "' of ", path);
  if (H5Aexists(file.get(), attribute.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return absl::NotFoundError(absl::StrCat(path, " has no root attribute '", attribute, "'"));
  }
  Hdf5Id attr(H5Aopen(file.get(), attribute.c_str(), H5P_DEFAULT), H5Aclose);
  Hdf5Id type(attr.valid() ? H5Aget_type(attr.get()) : -1, H5Tclose);
  Hdf5Id space(attr.valid() ? H5Aget_space(attr.get()) : -1, H5Sclose);
  if (!type.valid() || !space.valid()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open ", where, ": ", Hdf5ErrorDetail()));
  }
  if (H5Tget_class(type.get()) != H5T_STRING) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " is of type ", DescribeType(type.get()), ", not a string"));
  }
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not a single string"));
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Hdf5Id memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    char* value = nullptr;
    if (H5Aread(attr.get(), memory_type.get(), &value) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", where, ": ", Hdf5ErrorDetail()));
    }
    std::string result = value != nullptr ? value : "";
    H5free_memory(value);
    return result;
  }
  std::string buffer(H5Tget_size(type.get()), '\0');
  if (H5Aread(attr.get(), type.get(), buffer.data()) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", where, ": ", Hdf5ErrorDetail()));
  }
  // Fixed-length strings are padded with NULs or spaces.
  buffer.resize(std::min(buffer.find('\0'), buffer.size()));
  buffer.erase(buffer.find_last_not_of(' ') + 1);
  return buffer;
}

absl::StatusOr<std::string> ReadHdf5Distance(const std::string& path) {
  return ReadHdf5StringAttribute(path, "distance");
}

}  // namespace adanns::readers
