#include "bench/threads.h"

#include <omp.h>

#include <thread>

// OpenBLAS exports this from every threading variant; Debian ships no header path we can rely on.
extern "C" void openblas_set_num_threads(int num_threads);

namespace adanns::bench {

void SetComputeThreads(int threads) {
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

int ComputeThreads() { return omp_get_max_threads(); }

}  // namespace adanns::bench
