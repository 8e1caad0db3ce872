// Test helper: writes an ann-benchmarks HDF5 file (train, test, neighbors as int32, root string
// attribute distance) straight with the HDF5 C API, independently of the code under test.
#pragma once

#include <hdf5.h>

#include <string>

#include "bench/datasets/matrix.h"
#include "gtest/gtest.h"

namespace adanns::bench {

inline void WriteHdf5Matrix(hid_t file, const char* name, hid_t type, uint64_t rows, uint64_t cols,
                            const void* values) {
  const hsize_t shape[2] = {rows, cols};
  const hid_t space = H5Screate_simple(2, shape, nullptr);
  const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0) << name;
  H5Dclose(set);
  H5Sclose(space);
}

// `distance` goes in as a fixed-length string attribute, as h5py writes a plain str.
inline void WriteAnnBenchmarksHdf5(const std::string& path, const std::string& distance,
                                   const FloatMatrix& train, const FloatMatrix& test,
                                   const Int32Matrix& neighbors) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  WriteHdf5Matrix(file, "train", H5T_NATIVE_FLOAT, train.rows, train.cols, train.values.data());
  WriteHdf5Matrix(file, "test", H5T_NATIVE_FLOAT, test.rows, test.cols, test.values.data());
  WriteHdf5Matrix(file, "neighbors", H5T_NATIVE_INT32, neighbors.rows, neighbors.cols,
                  neighbors.values.data());
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, distance.size());
  const hid_t scalar = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(file, "distance", type, scalar, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Awrite(attribute, type, distance.data()), 0);
  H5Aclose(attribute);
  H5Sclose(scalar);
  H5Tclose(type);
  H5Fclose(file);
}

}  // namespace adanns::bench
