// `adanns-bench prepare <dataset>`: builds a prepared data set folder (npy files + info.json) and
// prints each step's time, sanity checks and a summary.
#pragma once

#include <string>

#include "bench/datasets/fashion_mnist.h"

namespace adanns::bench {

struct PrepareFashionMnistArgs {
  FashionMnistOptions dataset;
  // Output folder, created when missing.
  std::string out_dir;
  // Compute threads for FAISS and OpenBLAS; 0 = every core.
  // Default: 0.
  int threads = 0;
};

// Runs the whole preparation; returns the process exit code (errors are printed to stderr).
int RunPrepareFashionMnist(const PrepareFashionMnistArgs& args);

}  // namespace adanns::bench
