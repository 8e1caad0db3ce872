// Sets how many threads FAISS (OpenMP) and OpenBLAS (its own pthreads) may use, so that one flag
// or one call controls both pools; benchmarks pin both to 1.
#pragma once

namespace adanns::bench {

// `threads` <= 0 means every core the machine reports.
void SetComputeThreads(int threads);

// The OpenMP thread count in force.
int ComputeThreads();

}  // namespace adanns::bench
