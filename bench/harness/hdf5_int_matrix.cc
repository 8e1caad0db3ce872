#include "bench/harness/hdf5_int_matrix.h"

#include <hdf5.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace adanns::bench {
namespace {

// Closes one HDF5 handle at scope exit; a negative id (failed open) is left alone.
class ScopedHandle {
 public:
  ScopedHandle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~ScopedHandle() {
    if (id_ >= 0) close_(id_);
  }
  ScopedHandle(const ScopedHandle&) = delete;
  ScopedHandle& operator=(const ScopedHandle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

}  // namespace

absl::StatusOr<Int32Matrix> ReadHdf5Int32Matrix(const std::string& path,
                                                const std::string& dataset) {
  // Errors travel as Status; HDF5's own stack printout would only add noise.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string where = absl::StrCat("dataset '", dataset, "' of ", path);
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrCat(path, " not found"));
  ScopedHandle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) return absl::InvalidArgumentError(absl::StrCat(path, " is not an HDF5 file"));
  if (H5Lexists(file.get(), dataset.c_str(), H5P_DEFAULT) <= 0) {
    return absl::NotFoundError(absl::StrCat(path, " has no dataset '", dataset, "'"));
  }
  ScopedHandle data(H5Dopen2(file.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  ScopedHandle type(data.ok() ? H5Dget_type(data.get()) : -1, H5Tclose);
  ScopedHandle space(data.ok() ? H5Dget_space(data.get()) : -1, H5Sclose);
  if (!type.ok() || !space.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open ", where));
  }
  if (H5Tget_class(type.get()) != H5T_INTEGER) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not an integer dataset"));
  }
  if (H5Sget_simple_extent_ndims(space.get()) != 2) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not 2-D (rows x k)"));
  }
  hsize_t shape[2];
  H5Sget_simple_extent_dims(space.get(), shape, nullptr);
  Int32Matrix matrix = ZeroMatrix<int32_t>(shape[0], shape[1]);
  if (!matrix.values.empty() && H5Dread(data.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                        matrix.values.data()) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", where));
  }
  return matrix;
}

}  // namespace adanns::bench
