#include "bench/methods/faiss_baseline.h"

#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include "absl/strings/str_cat.h"
#include "bench/threads.h"

namespace adanns::bench {

faiss::MetricType FaissMetric(Metric metric) {
  return metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

const float* FaissRows(const float* rows, size_t n, size_t dim, Metric metric,
                       std::vector<float>& storage) {
  if (metric != Metric::kCosine) return rows;
  storage.assign(rows, rows + n * dim);
  faiss::fvec_renorm_L2(dim, n, storage.data());
  return storage.data();
}

TrainingRows FaissTrainingRows(const BenchData& data, uint64_t rows, std::vector<float>& storage) {
  const uint64_t n = data.base.rows;
  const size_t dim = data.base.cols;
  if (rows == 0 || rows >= n) {
    return {FaissRows(data.base.values.data(), n, dim, data.metric, storage), n};
  }
  storage.resize(rows * dim);
  for (uint64_t i = 0; i < rows; ++i) {
    const float* row = data.base.row(i * n / rows);
    std::copy(row, row + dim, storage.begin() + i * dim);
  }
  if (data.metric == Metric::kCosine) faiss::fvec_renorm_L2(dim, rows, storage.data());
  return {storage.data(), rows};
}

void TrainAndAddFaiss(faiss::Index& index, const BenchData& data, uint64_t train_rows,
                      int train_threads, int threads, BuildStats* stats) {
  const auto seconds_since = [](std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<float> storage;
  auto start = std::chrono::steady_clock::now();
  const TrainingRows train = FaissTrainingRows(data, train_rows, storage);
  SetComputeThreads(train_threads);
  try {
    index.train(static_cast<FaissIdx>(train.count), train.values);
  } catch (...) {
    SetComputeThreads(threads);
    throw;
  }
  SetComputeThreads(threads);
  stats->train_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  index.add(
      static_cast<FaissIdx>(data.base.rows),
      FaissRows(data.base.values.data(), data.base.rows, data.base.cols, data.metric, storage));
  stats->encode_s = seconds_since(start);
}

void SearchErrorReporter::Report(const char* method, const char* what) const {
  if (!reported_.exchange(true)) std::fprintf(stderr, "%s search: %s\n", method, what);
}

std::optional<BaselineCacheEntry> FaissCacheEntry(const BenchData& data, const std::string& method,
                                                  const Params& build) {
  return BaselineCacheEntry::For(data, method, build,
                                 absl::StrCat("faiss ", FAISS_VERSION_MAJOR, ".",
                                              FAISS_VERSION_MINOR, ".", FAISS_VERSION_PATCH));
}

std::unique_ptr<faiss::Index> ReadCachedFaissIndex(const std::optional<BaselineCacheEntry>& entry,
                                                   BuildStats* stats) {
  if (!entry || !entry->Exists()) return nullptr;
  try {
    std::unique_ptr<faiss::Index> index(faiss::read_index(entry->index_path().c_str()));
    if (!entry->LoadStats(stats)) return nullptr;
    std::fprintf(stderr, "[cache] loaded %s\n", entry->index_path().c_str());
    return index;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[cache] ignoring %s: %s\n", entry->index_path().c_str(), e.what());
    return nullptr;
  }
}

void SaveCachedFaissIndex(const std::optional<BaselineCacheEntry>& entry, const faiss::Index& index,
                          const BuildStats& stats) {
  if (!entry) return;
  try {
    faiss::write_index(&index, entry->temp_path().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[cache] cannot write %s: %s\n", entry->temp_path().c_str(), e.what());
    return;
  }
  if (absl::Status committed = entry->Commit(stats); !committed.ok()) {
    std::fprintf(stderr, "[cache] %s\n", committed.ToString().c_str());
  }
}

void SearchFaissBatch(const faiss::Index& index, Metric metric, const float* queries, size_t n,
                      uint32_t k, const SearchErrorReporter& errors, const char* method,
                      int64_t* ids) {
  std::vector<float> storage;
  const float* rows = FaissRows(queries, n, index.d, metric, storage);
  std::vector<float> distances(n * k);
  try {
    index.search(static_cast<FaissIdx>(n), rows, k, distances.data(), ids);
  } catch (const std::exception& e) {
    errors.Report(method, e.what());
    std::fill(ids, ids + n * k, -1);
  }
}

}  // namespace adanns::bench
