#include "bench/datasets/hdf5_writer.h"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::bench {
namespace {

// Rows per H5Dwrite: about 64 MB of float32, so HDF5 never needs a buffer the size of the base.
constexpr uint64_t kBlockBytes = 64ULL << 20;

// One HDF5 identifier, closed with its H5?close when it goes out of scope.
class ScopedId {
 public:
  using Closer = herr_t (*)(hid_t);
  ScopedId(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ScopedId(const ScopedId&) = delete;
  ScopedId& operator=(const ScopedId&) = delete;
  ~ScopedId() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now, so the caller sees the result (the destructor cannot report it).
  herr_t Close() {
    const herr_t result = closer_(id_);
    id_ = -1;
    return result;
  }

 private:
  hid_t id_;
  Closer closer_;
};

absl::Status Hdf5Error(const std::string& what, const std::string& path) {
  H5Eclear2(H5E_DEFAULT);
  return absl::InternalError(absl::StrCat("HDF5: cannot ", what, " in ", path));
}

// Creates a rows x cols dataset of `file_type` and writes `values` (row-major, `memory_type`)
// block by block.
template <typename T>
absl::Status WriteMatrix(hid_t file, const std::string& path, const char* name, hid_t file_type,
                         hid_t memory_type, uint64_t rows, uint64_t cols, const T* values) {
  const hsize_t shape[2] = {rows, cols};
  ScopedId space(H5Screate_simple(2, shape, nullptr), H5Sclose);
  if (!space.valid()) return Hdf5Error(absl::StrCat("describe dataset ", name), path);
  ScopedId dataset(
      H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  if (!dataset.valid()) return Hdf5Error(absl::StrCat("create dataset ", name), path);
  const uint64_t block_rows =
      std::max<uint64_t>(1, kBlockBytes / (sizeof(T) * std::max<uint64_t>(1, cols)));
  for (uint64_t first = 0; first < rows; first += block_rows) {
    const hsize_t start[2] = {first, 0};
    const hsize_t count[2] = {std::min(block_rows, rows - first), cols};
    ScopedId memory_space(H5Screate_simple(2, count, nullptr), H5Sclose);
    if (!memory_space.valid() ||
        H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
        H5Dwrite(dataset.get(), memory_type, memory_space.get(), space.get(), H5P_DEFAULT,
                 values + first * cols) < 0) {
      return Hdf5Error(absl::StrCat("write rows ", first, ".. of dataset ", name), path);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteStringAttribute(hid_t file, const std::string& path, const char* name,
                                  const std::string& value) {
  // Variable-length UTF-8, as h5py writes `f.attrs[name] = "..."`.
  ScopedId type(H5Tcopy(H5T_C_S1), H5Tclose);
  ScopedId space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!type.valid() || !space.valid() || H5Tset_size(type.get(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0) {
    return Hdf5Error(absl::StrCat("describe attribute ", name), path);
  }
  ScopedId attribute(H5Acreate2(file, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                     H5Aclose);
  const char* text = value.c_str();
  if (!attribute.valid() || H5Awrite(attribute.get(), type.get(), &text) < 0) {
    return Hdf5Error(absl::StrCat("write attribute ", name), path);
  }
  return absl::OkStatus();
}

absl::Status WriteIntAttribute(hid_t file, const std::string& path, const char* name,
                               int64_t value) {
  ScopedId space(H5Screate(H5S_SCALAR), H5Sclose);
  ScopedId attribute(
      space.valid() ? H5Acreate2(file, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT)
                    : -1,
      H5Aclose);
  if (!attribute.valid() || H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value) < 0) {
    return Hdf5Error(absl::StrCat("write attribute ", name), path);
  }
  return absl::OkStatus();
}

// ann-benchmarks' stored distance of each ground-truth pair.
std::vector<float> NeighborDistances(const PreparedDataset& dataset, bool angular) {
  const FloatMatrix& base = dataset.base;
  const FloatMatrix& queries = dataset.queries;
  const Int32Matrix& neighbors = dataset.groundtruth;
  const size_t dim = base.cols;
  std::vector<float> out(neighbors.values.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (uint64_t q = 0; q < neighbors.rows; ++q) {
    const float* query = queries.row(q);
    for (uint64_t r = 0; r < neighbors.cols; ++r) {
      const float* row = base.row(static_cast<uint64_t>(neighbors.row(q)[r]));
      double dot = 0, query_norm = 0, row_norm = 0, squared = 0;
      for (size_t j = 0; j < dim; ++j) {
        const double a = query[j];
        const double b = row[j];
        dot += a * b;
        query_norm += a * a;
        row_norm += b * b;
        squared += (a - b) * (a - b);
      }
      const double norms = std::sqrt(query_norm * row_norm);
      out[q * neighbors.cols + r] =
          static_cast<float>(angular ? (norms > 0 ? 1.0 - dot / norms : 1.0) : std::sqrt(squared));
    }
  }
  return out;
}

absl::Status CheckShapes(const PreparedDataset& dataset) {
  if (dataset.distance != "euclidean" && dataset.distance != "angular") {
    return absl::InvalidArgumentError(absl::StrCat("HDF5 writer: distance '", dataset.distance,
                                                   "' is neither euclidean nor angular"));
  }
  if (dataset.base.cols == 0 || dataset.queries.cols != dataset.base.cols ||
      dataset.groundtruth.rows != dataset.queries.rows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HDF5 writer: base ", dataset.base.rows, "x", dataset.base.cols, ", queries ",
        dataset.queries.rows, "x", dataset.queries.cols, ", ground truth ",
        dataset.groundtruth.rows, "x", dataset.groundtruth.cols, " do not fit together"));
  }
  for (const int32_t id : dataset.groundtruth.values) {
    if (id < 0 || static_cast<uint64_t>(id) >= dataset.base.rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("HDF5 writer: ground truth names row ", id, " of ", dataset.base.rows));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteAnnBenchmarksHdf5(const PreparedDataset& dataset, const std::string& path) {
  RETURN_IF_ERROR(CheckShapes(dataset));
  // Errors come back as Status; HDF5 would otherwise print its stack to stderr.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::vector<float> distances = NeighborDistances(dataset, dataset.distance == "angular");
  ScopedId file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) return Hdf5Error("create the file", path);
  const hid_t id = file.get();
  RETURN_IF_ERROR(WriteMatrix(id, path, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                              dataset.base.rows, dataset.base.cols, dataset.base.values.data()));
  RETURN_IF_ERROR(WriteMatrix(id, path, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                              dataset.queries.rows, dataset.queries.cols,
                              dataset.queries.values.data()));
  RETURN_IF_ERROR(WriteMatrix(id, path, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32,
                              dataset.groundtruth.rows, dataset.groundtruth.cols,
                              dataset.groundtruth.values.data()));
  RETURN_IF_ERROR(WriteMatrix(id, path, "distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                              dataset.groundtruth.rows, dataset.groundtruth.cols,
                              distances.data()));
  RETURN_IF_ERROR(WriteStringAttribute(id, path, "distance", dataset.distance));
  RETURN_IF_ERROR(WriteStringAttribute(id, path, "type", "dense"));
  RETURN_IF_ERROR(WriteStringAttribute(id, path, "point_type", "float"));
  RETURN_IF_ERROR(
      WriteIntAttribute(id, path, "dimension", static_cast<int64_t>(dataset.base.cols)));
  if (file.Close() < 0) return Hdf5Error("close the file", path);
  return absl::OkStatus();
}

}  // namespace adanns::bench
