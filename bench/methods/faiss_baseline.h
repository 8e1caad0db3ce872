// What the FAISS baselines (faiss-ivf, faiss-opq) share: the metric as FAISS spells it, rows
// normalised for cosine, search errors reported once, and the built-index cache.
#pragma once

#include <faiss/Index.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/harness/bench_data.h"
#include "bench/harness/method.h"
#include "bench/methods/baseline_cache.h"

namespace adanns::bench {

using FaissIdx = faiss::Index::idx_t;

// L2 for kL2; inner product for kInnerProduct and kCosine (on unit rows).
faiss::MetricType FaissMetric(Metric metric);

// `n` rows of `dim` floats as FAISS should see them: `rows` itself, or (cosine) a normalised copy
// kept in `storage`.
const float* FaissRows(const float* rows, size_t n, size_t dim, Metric metric,
                       std::vector<float>& storage);

// The rows a FAISS index trains on: every row when `rows` is 0 or at least n, else `rows` rows
// evenly strided through the base (prepared sets may be ordered), normalised for cosine.
struct TrainingRows {
  const float* values = nullptr;
  uint64_t count = 0;
};
TrainingRows FaissTrainingRows(const BenchData& data, uint64_t rows, std::vector<float>& storage);

// Trains `index` on FaissTrainingRows(data, train_rows) with `train_threads` compute threads, adds
// every base row with `threads`, and fills stats->train_s / encode_s. FAISS exceptions propagate
// (after the thread count is restored).
void TrainAndAddFaiss(faiss::Index& index, const BenchData& data, uint64_t train_rows,
                      int train_threads, int threads, BuildStats* stats);

// Prints a FAISS search failure once per index: Search cannot return a Status, and a failed
// search shows as ids of -1 (recall 0) in the results.
class SearchErrorReporter {
 public:
  void Report(const char* method, const char* what) const;

 private:
  mutable std::atomic<bool> reported_{false};
};

// One FAISS search call for n queries (normalised first for cosine data), as FAISS's users call
// it; on a FAISS exception every id is -1 and `errors` reports it once for `method`.
void SearchFaissBatch(const faiss::Index& index, Metric metric, const float* queries, size_t n,
                      uint32_t k, const SearchErrorReporter& errors, const char* method,
                      int64_t* ids);

// The cache entry of this FAISS build ("faiss 1.7.3" is part of the key), or nullopt.
std::optional<BaselineCacheEntry> FaissCacheEntry(const BenchData& data, const std::string& method,
                                                  const Params& build);

// The cached index when `entry` holds one of type T (restoring the original train/encode
// seconds into `stats`), else null. A damaged entry is reported and ignored.
std::unique_ptr<faiss::Index> ReadCachedFaissIndex(const std::optional<BaselineCacheEntry>& entry,
                                                   BuildStats* stats);
template <typename T>
std::unique_ptr<T> LoadCachedFaiss(const std::optional<BaselineCacheEntry>& entry,
                                   BuildStats* stats) {
  std::unique_ptr<faiss::Index> index = ReadCachedFaissIndex(entry, stats);
  if (dynamic_cast<T*>(index.get()) == nullptr) return nullptr;
  return std::unique_ptr<T>(static_cast<T*>(index.release()));
}

// Stores a fresh build when caching is on; a failure is reported, never fatal.
void SaveCachedFaissIndex(const std::optional<BaselineCacheEntry>& entry, const faiss::Index& index,
                          const BuildStats& stats);

}  // namespace adanns::bench
