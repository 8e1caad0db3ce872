// `faiss-ivf`: FAISS IndexIVFFlat at full dims (L2, or inner product on unit rows for cosine),
// nlist swept at build, nprobe per call through SearchParametersIVF (the index is never mutated).
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/faiss_baseline.h"

namespace adanns::bench {
namespace {

constexpr char kName[] = "faiss-ivf";

// The power of two nearest to `x` (in log scale), within [1, limit].
uint32_t NearestPowerOfTwo(double x, uint64_t limit) {
  const double power = std::exp2(std::round(std::log2(std::max(1.0, x))));
  return static_cast<uint32_t>(std::clamp<double>(power, 1.0, static_cast<double>(limit)));
}

// The nlist that ARCHITECTURE.md compares at: about 4 sqrt(N) (1024 for 60k).
uint32_t DefaultNlist(uint64_t n) { return NearestPowerOfTwo(4.0 * std::sqrt(double(n)), n); }

class FaissIvfIndex : public BuiltIndex {
 public:
  FaissIvfIndex(std::unique_ptr<faiss::IndexIVFFlat> index, Metric metric)
      : index_(std::move(index)), metric_(metric) {}

  absl::Status SetSearchParams(const Params& search) override {
    RETURN_IF_ERROR(CheckParamKeys(search, {"nprobe"}, "faiss-ivf search"));
    ASSIGN_OR_RETURN(const uint32_t nprobe, UintParam(search, "nprobe", 1, 1, 1u << 20));
    // FAISS itself caps nprobe at nlist; one grid serves builds of several nlist.
    nprobe_ = std::min<size_t>(nprobe, index_->nlist);
    return absl::OkStatus();
  }

  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    SearchBatch(query, 1, k, 1, ids, work);
  }

  // One FAISS call for the batch (OpenMP over queries, BLAS for the coarse step from 20 queries,
  // as FAISS users call it; the runner sets the OpenMP threads). The coarse assignment is done
  // here so the probed list sizes (the work) are exact per query, without FAISS's global stats.
  void SearchBatch(const float* queries, size_t n, uint32_t k, int threads, int64_t* ids,
                   QueryWork* work) const override {
    const size_t dim = index_->d;
    const size_t nprobe = nprobe_;
    std::vector<float> storage;
    const float* rows = FaissRows(queries, n, dim, metric_, storage);
    std::vector<FaissIdx> lists(n * nprobe, -1);
    std::vector<float> coarse(n * nprobe);
    std::vector<float> distances(n * k);
    try {
      index_->quantizer->search(static_cast<FaissIdx>(n), rows, static_cast<FaissIdx>(nprobe),
                                coarse.data(), lists.data());
      faiss::SearchParametersIVF params;
      params.nprobe = nprobe;
      index_->search_preassigned(static_cast<FaissIdx>(n), rows, k, lists.data(), coarse.data(),
                                 distances.data(), ids, /*store_pairs=*/false, &params,
                                 /*stats=*/nullptr);
    } catch (const std::exception& e) {
      errors_.Report(kName, e.what());
      std::fill(ids, ids + n * k, -1);
    }
    for (size_t i = 0; i < n; ++i) {
      uint64_t scanned = 0;
      for (size_t p = 0; p < nprobe; ++p) {
        const FaissIdx list = lists[i * nprobe + p];
        if (list >= 0) scanned += index_->invlists->list_size(static_cast<size_t>(list));
      }
      // d * nlist to rank the centroids, then d per scanned vector.
      work[i].flops = static_cast<double>(dim) * static_cast<double>(index_->nlist) +
                      static_cast<double>(scanned) * static_cast<double>(dim);
      work[i].vectors_scanned = scanned;
    }
  }

 private:
  std::unique_ptr<faiss::IndexIVFFlat> index_;  // owns its quantizer (FAISS own_fields)
  Metric metric_;
  size_t nprobe_ = 1;
  SearchErrorReporter errors_;
};

class FaissIvfMethod : public Method {
 public:
  std::string name() const override { return kName; }

  // nlist about 4 sqrt(N) (a power of two: 1024 for 60k); every nprobe 1..16, where recall moves
  // fastest, then steps of 2 to 32, 4 to 48 and 8 to 64 (those <= nlist): on Fashion-MNIST recall
  // is 0.989 at 16 and 1.000 at 64, so the frontier between points stays within a fraction of a
  // recall point. Debian's FAISS scans with scalar code (about 4 ms a query at nprobe 64), so a
  // denser grid or a second nlist would take most of the 10-minute budget; a grid file
  // adds them (`faiss-ivf build nlist=256`, `faiss-ivf search nprobe=1..64`).
  Grid DefaultGrid(const BenchData& data) const override {
    const uint32_t nlist = DefaultNlist(data.base.rows);
    Grid grid;
    grid.builds.push_back(Params{{"nlist", nlist}});
    std::vector<uint32_t> nprobes;
    for (uint32_t p = 1; p <= 16; ++p) nprobes.push_back(p);
    for (uint32_t p = 18; p <= 32; p += 2) nprobes.push_back(p);
    for (uint32_t p : {36u, 40u, 44u, 48u, 56u, 64u}) nprobes.push_back(p);
    for (uint32_t p : nprobes) {
      if (p <= nlist) grid.searches.push_back(Params{{"nprobe", p}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build, {"nlist", "train_rows"}, "faiss-ivf build"));
    const uint64_t n = data.base.rows;
    const size_t dim = data.base.cols;
    if (n == 0 || n > (1u << 31)) {
      return absl::InvalidArgumentError(absl::StrCat("faiss-ivf: ", n, " base rows"));
    }
    ASSIGN_OR_RETURN(const uint32_t nlist,
                     UintParam(build, "nlist", DefaultNlist(n), 1, static_cast<uint32_t>(n)));
    // k-means rows (0 = all; FAISS itself samples at most 256 per centroid).
    ASSIGN_OR_RETURN(const uint32_t train_rows, UintParam(build, "train_rows", 0, 0, 1u << 31));
    const Params effective = {{"nlist", nlist}, {"train_rows", train_rows}};
    const std::optional<BaselineCacheEntry> cache = FaissCacheEntry(data, kName, effective);
    std::unique_ptr<faiss::IndexIVFFlat> index = LoadCachedFaiss<faiss::IndexIVFFlat>(cache, stats);
    try {
      if (index == nullptr) {
        std::unique_ptr<faiss::IndexFlat> quantizer;
        if (data.metric == Metric::kL2) {
          quantizer = std::make_unique<faiss::IndexFlatL2>(dim);
        } else {
          quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
        }
        index = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dim, nlist,
                                                      FaissMetric(data.metric));
        index->own_fields = true;
        quantizer.release();
        TrainAndAddFaiss(*index, data, train_rows, threads, threads, stats);  // k-means
        SaveCachedFaissIndex(cache, *index, *stats);
      }
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("faiss-ivf build (nlist ", nlist, "): ", e.what()));
    }
    if (index->nlist != nlist || static_cast<size_t>(index->d) != dim) {
      return absl::InternalError("faiss-ivf: cached index does not match its key");
    }
    stats->bytes_per_vector["full_vectors"] = 4.0 * static_cast<double>(dim);
    stats->bytes_per_vector["ids"] = 8;
    stats->bytes_per_vector["centroids"] =
        4.0 * static_cast<double>(dim) * nlist / static_cast<double>(n);
    return std::unique_ptr<BuiltIndex>(new FaissIvfIndex(std::move(index), data.metric));
  }
};

ADANNS_REGISTER_METHOD("faiss-ivf", FaissIvfMethod);

}  // namespace
}  // namespace adanns::bench
