// `faiss-flat`: the exact baseline, FAISS IndexFlatL2 (euclidean) or IndexFlatIP (inner product;
// cosine on L2-normalised base and queries) at full dims. One point; N * dim FLOPs per query.
#include <faiss/IndexFlat.h>

#include <algorithm>
#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/faiss_baseline.h"

namespace adanns::bench {
namespace {

constexpr char kName[] = "faiss-flat";

class FaissFlatIndex : public BuiltIndex {
 public:
  FaissFlatIndex(std::unique_ptr<faiss::IndexFlat> index, Metric metric)
      : index_(std::move(index)), metric_(metric) {}

  absl::Status SetSearchParams(const Params& search) override {
    return CheckParamKeys(search, {}, "faiss-flat search");
  }

  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    SearchBatch(query, 1, k, 1, ids, work);
  }

  // One FAISS call for the whole batch: FAISS parallelises over queries (OpenMP) and switches
  // to BLAS for 20 or more, as its users would call it.
  void SearchBatch(const float* queries, size_t n, uint32_t k, int threads, int64_t* ids,
                   QueryWork* work) const override {
    SearchFaissBatch(*index_, metric_, queries, n, k, errors_, kName, ids);
    const auto total = static_cast<uint64_t>(index_->ntotal);
    for (size_t i = 0; i < n; ++i) {
      work[i].flops = static_cast<double>(total) * index_->d;
      work[i].vectors_scanned = total;
    }
  }

 private:
  std::unique_ptr<faiss::IndexFlat> index_;
  Metric metric_;
  SearchErrorReporter errors_;
};

class FaissFlatMethod : public Method {
 public:
  std::string name() const override { return kName; }

  Grid DefaultGrid(const BenchData& data) const override { return {{Params{}}, {Params{}}}; }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build, {}, "faiss-flat build"));
    const size_t dim = data.base.cols;
    try {
      auto index = std::make_unique<faiss::IndexFlat>(dim, FaissMetric(data.metric));
      std::vector<float> storage;
      index->add(static_cast<FaissIdx>(data.base.rows),
                 FaissRows(data.base.values.data(), data.base.rows, dim, data.metric, storage));
      stats->bytes_per_vector["full_vectors"] = static_cast<double>(dim * sizeof(float));
      return std::make_unique<FaissFlatIndex>(std::move(index), data.metric);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("faiss-flat build: ", e.what()));
    }
  }
};

ADANNS_REGISTER_METHOD(kName, FaissFlatMethod);

}  // namespace
}  // namespace adanns::bench
