// `adanns-bench prepare <dataset>`: builds a prepared data set folder (npy files + info.json, and
// optionally an ann-benchmarks HDF5 file) and prints each step's time, sanity checks and a summary.
#pragma once

#include <string>

#include "bench/datasets/fashion_mnist.h"
#include "bench/datasets/synthetic.h"

namespace adanns::bench {

// Where a preparation writes, and with how many threads.
struct PrepareOutput {
  // Output folder, created when missing.
  std::string out_dir;
  // Also write the set as an ann-benchmarks HDF5 file here; empty = no HDF5 file.
  // Default: empty.
  std::string hdf5_path;
  // Compute threads for FAISS and OpenBLAS; 0 = every core.
  // Default: 0.
  int threads = 0;
};

struct PrepareFashionMnistArgs {
  FashionMnistOptions dataset;
  PrepareOutput output;
  // Write the angular variant: rows L2-normalised, exact cosine ground truth.
  // Default: false.
  bool angular = false;
  // Append this fraction of the rows again as near duplicates (bench/datasets/duplicates.h).
  // Default: 0 (none).
  double duplicates = 0;
};

struct PrepareSyntheticArgs {
  SyntheticOptions dataset;
  PrepareOutput output;
};

// Each runs the whole preparation; returns the process exit code (errors are printed to stderr).
int RunPrepareFashionMnist(const PrepareFashionMnistArgs& args);
int RunPrepareSynthetic(const PrepareSyntheticArgs& args);

}  // namespace adanns::bench
