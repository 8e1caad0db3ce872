// Reads a whole 2-D integer dataset of an HDF5 file as int32 (the "neighbors" ground truth of
// ann-benchmarks files); the client readers cover only float datasets.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "bench/datasets/matrix.h"

namespace adanns::bench {

// NOT_FOUND when the file or dataset is missing; INVALID_ARGUMENT when it is not a 2-D integer
// dataset. Wider integers are narrowed by HDF5 (ann-benchmarks writes int32).
absl::StatusOr<Int32Matrix> ReadHdf5Int32Matrix(const std::string& path,
                                                const std::string& dataset);

}  // namespace adanns::bench
