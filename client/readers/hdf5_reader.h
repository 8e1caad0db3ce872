// Streaming reader for ann-benchmarks HDF5 files (2-D float32/float64 datasets "train", "test",
// ...), read in hyperslab chunks, and access to their root string attributes ("distance").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/readers/vector_reader.h"

namespace adanns::readers {

// float64 datasets are narrowed to float32 by HDF5 as they are read. Keeps hdf5.h out of users'
// includes: the HDF5 handles live in an opaque state.
class Hdf5Reader : public VectorReader {
 public:
  // NOT_FOUND when the file or the dataset is missing (the message lists the root's members);
  // INVALID_ARGUMENT when it is not HDF5, or the dataset is not a 2-D float32/float64 matrix.
  static absl::StatusOr<std::unique_ptr<Hdf5Reader>> Open(const std::string& path,
                                                          const std::string& dataset);
  ~Hdf5Reader() override;

  uint64_t rows() const override { return rows_; }
  uint32_t dim() const override { return dim_; }
  uint64_t rows_read() const override { return rows_read_; }
  absl::StatusOr<size_t> Read(size_t max_rows, float* out) override;

 private:
  struct Handles;
  Hdf5Reader(std::string path, std::unique_ptr<Handles> handles, uint64_t rows, uint32_t dim);

  std::string path_;
  std::unique_ptr<Handles> handles_;
  uint64_t rows_;
  uint32_t dim_;
  uint64_t rows_read_ = 0;
};

// Reads a string attribute of the file's root group (fixed- or variable-length, as h5py writes
// it). NOT_FOUND when the file has no such attribute.
absl::StatusOr<std::string> ReadHdf5StringAttribute(const std::string& path,
                                                    const std::string& attribute);

// The ann-benchmarks "distance" attribute: "euclidean", "angular", "jaccard", ...
absl::StatusOr<std::string> ReadHdf5Distance(const std::string& path);

}  // namespace adanns::readers
