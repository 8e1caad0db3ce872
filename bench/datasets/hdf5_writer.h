// Writes a prepared data set as an ann-benchmarks HDF5 file (train, test, neighbors, distances and
// the root "distance" attribute), so other tools and our own readers can load it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "bench/datasets/prepared_dataset.h"

namespace adanns::bench {

// Datasets: train (n x dim float32), test (queries x dim float32), neighbors (queries x gt_k
// int32) and distances (queries x gt_k float32, computed here in double: Euclidean distance for
// "euclidean", 1 - cosine for "angular", as ann-benchmarks stores them). Root attributes:
// distance, type = "dense", point_type = "float", dimension. Rows are written in blocks; the file
// is replaced when it exists. INVALID_ARGUMENT for an unknown distance or inconsistent shapes,
// INTERNAL when HDF5 fails.
absl::Status WriteAnnBenchmarksHdf5(const PreparedDataset& dataset, const std::string& path);

}  // namespace adanns::bench
