// `faiss-opq`: FAISS index_factory "OPQ{M}_{d'},PQ{M}" at full dims (d' the largest multiple of M
// <= dim, since plain OPQ32,PQ32 throws on 784): M bytes per vector, flat ADC over every code.
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/index_factory.h>

#include <algorithm>
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

constexpr char kName[] = "faiss-opq";
// 8-bit sub-quantizers: 256 centroids per sub-space.
constexpr double kCentroidsPerSubspace = 256;
// Training defaults, below FAISS's own (50 OPQ iterations over up to 65536 rows): with Debian's
// generic FAISS those need about 10 minutes per M for Fashion-MNIST on 2 cores (a shared 2-thread
// run had not finished M=16 after 16). With these (one thread, 60k x 784): M=16 trains in
// 93-95 s (recall@10 0.53), M=32 in 132-154 s (0.66), M=64 in 247 s (0.77). A grid file asks for
// more: `faiss-opq build m=64 opq_iters=50 train_rows=65536`.
constexpr uint32_t kDefaultOpqIterations = 10;
constexpr uint32_t kDefaultTrainRows = 25600;  // 100 per centroid of each 8-bit sub-quantizer

class FaissOpqIndex : public BuiltIndex {
 public:
  FaissOpqIndex(std::unique_ptr<faiss::IndexPreTransform> index, Metric metric, uint32_t m,
                uint32_t rotated_dims)
      : index_(std::move(index)), metric_(metric), m_(m), rotated_dims_(rotated_dims) {}

  absl::Status SetSearchParams(const Params& search) override {
    return CheckParamKeys(search, {}, "faiss-opq search");
  }

  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    SearchBatch(query, 1, k, 1, ids, work);
  }

  // One FAISS call for the batch (rotation, then ADC tables and the scan, OpenMP over queries).
  // IndexPQ bumps the global indexPQ_stats counters without locks: the harness never calls Search
  // concurrently with itself, and nothing here reads them.
  void SearchBatch(const float* queries, size_t n, uint32_t k, int threads, int64_t* ids,
                   QueryWork* work) const override {
    SearchFaissBatch(*index_, metric_, queries, n, k, errors_, kName, ids);
    // ARCHITECTURE.md's OPQ cost: the distance tables (256 x d') plus M per code scanned. The
    // d x d' rotation of the query is not in the model.
    const auto total = static_cast<uint64_t>(index_->ntotal);
    for (size_t i = 0; i < n; ++i) {
      work[i].flops = kCentroidsPerSubspace * rotated_dims_ + static_cast<double>(total) * m_;
      work[i].vectors_scanned = total;
    }
  }

 private:
  std::unique_ptr<faiss::IndexPreTransform> index_;
  Metric metric_;
  uint32_t m_;
  uint32_t rotated_dims_;
  SearchErrorReporter errors_;
};

class FaissOpqMethod : public Method {
 public:
  std::string name() const override { return kName; }

  // M = 16 bytes per vector, one search point: its training alone takes about 90 s here (M = 32
  // about 125 s), so more codebooks come from a grid file (`faiss-opq build m=32`).
  Grid DefaultGrid(const BenchData& data) const override {
    Grid grid;
    if (data.base.cols >= 16) {
      grid.builds.push_back(Params{
          {"m", 16}, {"opq_iters", kDefaultOpqIterations}, {"train_rows", kDefaultTrainRows}});
    }
    grid.searches = {Params{}};
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build, {"m", "opq_iters", "train_rows"}, "faiss-opq build"));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    ASSIGN_OR_RETURN(const uint32_t m, UintParam(build, "m", 32, 1, std::min(dim, 1024u)));
    // Outer OPQ iterations (rotation, then PQ re-training).
    ASSIGN_OR_RETURN(const uint32_t opq_iters,
                     UintParam(build, "opq_iters", kDefaultOpqIterations, 1, 1000));
    // Rows the rotation and codebooks learn from (0 = all).
    ASSIGN_OR_RETURN(const uint32_t train_rows,
                     UintParam(build, "train_rows", kDefaultTrainRows, 0, 1u << 31));
    const uint32_t rotated_dims = dim / m * m;
    // "np": no polysemous training. It only permutes the codes for Hamming pre-filtering, which
    // this flat ADC search never uses, and takes minutes even on tiny sets.
    const std::string factory = absl::StrCat("OPQ", m, "_", rotated_dims, ",PQ", m, "np");
    const Params effective = {{"m", m}, {"opq_iters", opq_iters}, {"train_rows", train_rows}};
    const std::optional<BaselineCacheEntry> cache = FaissCacheEntry(data, kName, effective);
    std::unique_ptr<faiss::IndexPreTransform> index =
        LoadCachedFaiss<faiss::IndexPreTransform>(cache, stats);
    try {
      if (index == nullptr) {
        std::unique_ptr<faiss::Index> made(
            faiss::index_factory(static_cast<int>(dim), factory.c_str(), FaissMetric(data.metric)));
        index.reset(dynamic_cast<faiss::IndexPreTransform*>(made.get()));
        if (index == nullptr)
          return absl::InternalError(absl::StrCat(factory, ": unexpected type"));
        made.release();
        auto* opq = dynamic_cast<faiss::OPQMatrix*>(index->chain.at(0));
        if (opq == nullptr) return absl::InternalError(absl::StrCat(factory, ": no OPQ matrix"));
        opq->niter = static_cast<int>(opq_iters);
        // FAISS's PQ k-means runs many small BLAS calls and OpenMP regions per sub-space: on 2
        // cores one thread trained fastest (Fashion-MNIST, M=16: 42 s; 2 threads 58-117 s).
        TrainAndAddFaiss(*index, data, train_rows, /*train_threads=*/1, threads, stats);
        SaveCachedFaissIndex(cache, *index, *stats);
      }
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("faiss-opq build (", factory, "): ", e.what()));
    }
    const auto* pq = dynamic_cast<const faiss::IndexPQ*>(index->index);
    if (pq == nullptr || pq->pq.M != m || static_cast<uint32_t>(pq->d) != rotated_dims ||
        static_cast<uint32_t>(index->d) != dim) {
      return absl::InternalError(absl::StrCat("faiss-opq: index is not ", factory));
    }
    stats->bytes_per_vector["codes"] = static_cast<double>(pq->pq.code_size);
    return std::unique_ptr<BuiltIndex>(
        new FaissOpqIndex(std::move(index), data.metric, m, rotated_dims));
  }
};

ADANNS_REGISTER_METHOD("faiss-opq", FaissOpqMethod);

}  // namespace
}  // namespace adanns::bench
