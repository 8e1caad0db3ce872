#include <hdf5.h>

#include <cstring>
#include <vector>

#include "client/readers/hdf5_reader.h"
#include "client/readers/npy_writer.h"
#include "client/readers/vector_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_util.h"

namespace adanns::readers {
namespace {

using ::adanns::testing::ChunkedRead;
using ::adanns::testing::MessageOf;
using ::adanns::testing::ReadInChunks;
using ::adanns::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
void WriteDataset(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& shape,
                  const std::vector<T>& values) {
  const hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
  const hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(dataset, 0);
  ASSERT_GE(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(dataset);
  H5Sclose(space);
}

void WriteStringAttribute(hid_t file, const char* name, const char* value, bool variable_length) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  std::string padded = value;
  if (variable_length) {
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
  } else {
    padded.append(4, ' ');  // space-padded, as some writers store fixed-length strings
    H5Tset_size(type, padded.size());
    H5Tset_strpad(type, H5T_STR_SPACEPAD);
  }
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char* pointer = padded.c_str();
  if (variable_length) {
    H5Awrite(attribute, type, &pointer);
  } else {
    H5Awrite(attribute, type, padded.data());
  }
  H5Aclose(attribute);
  H5Sclose(space);
  H5Tclose(type);
}

std::vector<float> Ramp(size_t count) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) {
    values[i] = static_cast<float>(i) * 0.5f - 7.0f;
  }
  return values;
}

// An ann-benchmarks-like file: train (13 x 4 float32), test (3 x 4 float64), neighbors (int32),
// a 1-D dataset, a group, and the "distance" attribute.
class Hdf5ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("ann.hdf5");
    const hid_t file = H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    WriteDataset(file, "train", H5T_NATIVE_FLOAT, {13, 4}, train_);
    WriteDataset(file, "test", H5T_NATIVE_DOUBLE, {3, 4}, test_);
    WriteDataset(file, "neighbors", H5T_NATIVE_INT32, {3, 2},
                 std::vector<int32_t>{1, 2, 3, 4, 5, 6});
    WriteDataset(file, "flat", H5T_NATIVE_FLOAT, {4}, std::vector<float>{1, 2, 3, 4});
    H5Gclose(H5Gcreate2(file, "group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    WriteStringAttribute(file, "distance", "angular", /*variable_length=*/true);
    WriteStringAttribute(file, "fixed", "euclidean", /*variable_length=*/false);
    H5Fclose(file);
  }

  TempDir dir_;
  std::string path_;
  std::vector<float> train_ = Ramp(13 * 4);
  std::vector<double> test_ = {0.5, -1.25, 3.0, 1e-3, 2, 4, 8, 16, -0.0, 1, 1e30, 7};
};

TEST_F(Hdf5ReaderTest, ReadsTrainInChunks) {
  absl::StatusOr<std::unique_ptr<VectorReader>> reader = OpenVectorFile(path_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->rows(), 13u);
  EXPECT_EQ((*reader)->dim(), 4u);
  const ChunkedRead read = ReadInChunks(**reader, 5);
  ASSERT_TRUE(read.status.ok()) << read.status;
  EXPECT_THAT(read.read_sizes, ElementsAre(5, 5, 3));
  EXPECT_EQ(read.values, train_);
}

TEST_F(Hdf5ReaderTest, NarrowsFloat64Datasets) {
  ReaderOptions options;
  options.dataset = "test";
  absl::StatusOr<std::unique_ptr<VectorReader>> reader =
      OpenVectorFile(dir_.File("ann.hdf5"), options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> out(12);
  ASSERT_EQ(*(*reader)->Read(100, out.data()), 3u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i], static_cast<float>(test_[i])) << i;
  }
}

TEST_F(Hdf5ReaderTest, ReadsStringAttributes) {
  EXPECT_EQ(*ReadHdf5Distance(path_), "angular");
  EXPECT_EQ(*ReadHdf5StringAttribute(path_, "fixed"), "euclidean");
  const absl::Status missing = ReadHdf5StringAttribute(path_, "dimension").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(missing), HasSubstr("has no root attribute 'dimension'"));
}

TEST_F(Hdf5ReaderTest, BadDatasetsGivePreciseErrors) {
  absl::Status status = Hdf5Reader::Open(path_, "learn").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(status),
              HasSubstr("has no dataset 'learn' (its root has: flat, group, neighbors, test, "
                        "train)"));

  status = Hdf5Reader::Open(path_, "neighbors").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), HasSubstr("dataset 'neighbors' of " + path_ +
                                           " has element type int32: expected float32 or float64"));

  EXPECT_THAT(MessageOf(Hdf5Reader::Open(path_, "flat").status()),
              HasSubstr("has 1 dimensions: expected 2 (rows x dim)"));
  EXPECT_THAT(MessageOf(Hdf5Reader::Open(path_, "group").status()),
              HasSubstr("cannot open dataset 'group' of " + path_ + " as a dataset"));
}

TEST_F(Hdf5ReaderTest, BadFilesGivePreciseErrors) {
  const std::string missing = dir_.File("missing.h5");
  absl::Status status = Hdf5Reader::Open(missing, "train").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(status), HasSubstr("cannot open " + missing));
  EXPECT_EQ(ReadHdf5Distance(missing).status().code(), absl::StatusCode::kNotFound);

  const std::string not_hdf5 = dir_.File("vectors.h5");
  const float values[] = {1, 2};
  ASSERT_TRUE(WriteNpy(not_hdf5, 1, 2, values).ok());
  status = OpenVectorFile(not_hdf5).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), HasSubstr(not_hdf5 + " is not an HDF5 file"));
}

}  // namespace
}  // namespace adanns::readers
