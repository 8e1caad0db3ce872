// `hnswlib`: Debian's header-only hnswlib (0.6.2), this file compiled with -O3 -march=native as its
// users build it (it picks SIMD at compile time); M x efConstruction swept at build, ef per point.
//
// hnswlib types stay inside this file. Being built for this CPU, adanns-bench is not portable to
// older CPUs: the linker may keep this file's copy of an inline function shared with other files.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/baseline_cache.h"
#include "bench/methods/hnsw_bytes.h"

namespace adanns::bench {
namespace {

constexpr char kName[] = "hnswlib";
constexpr size_t kRandomSeed = 100;  // hnswlib's default level seed
// Rows one build thread claims at a time.
constexpr uint64_t kAddChunk = 64;
using Graph = hnswlib::HierarchicalNSW<float>;

// Distance evaluations of the calling thread: hnswlib's own metric_distance_computations adds a
// node's whole neighbour list before its visited check, while our graph walk counts only the
// distances it computes; counting inside the distance function counts both alike.
thread_local uint64_t tls_distance_evaluations = 0;

// A space whose distance function counts each call, then runs the wrapped space's. hnswlib hands
// the function our parameter block; its first member is the dimension, which is all the wrapped
// functions read from it.
class CountingSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit CountingSpace(std::unique_ptr<hnswlib::SpaceInterface<float>> inner)
      : inner_(std::move(inner)),
        param_{*static_cast<size_t*>(inner_->get_dist_func_param()), inner_->get_dist_func()} {}

  size_t get_data_size() override { return inner_->get_data_size(); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &Counted; }
  void* get_dist_func_param() override { return &param_; }

 private:
  struct Param {
    size_t dim;  // first: what the wrapped functions dereference
    hnswlib::DISTFUNC<float> inner;
  };
  static float Counted(const void* a, const void* b, const void* param) {
    ++tls_distance_evaluations;
    const auto* p = static_cast<const Param*>(param);
    return p->inner(a, b, p);
  }

  std::unique_ptr<hnswlib::SpaceInterface<float>> inner_;
  Param param_;
};

// Copies `row` into `out` scaled to unit L2 norm (cosine as inner product on unit rows).
const float* UnitRow(const float* row, size_t dim, std::vector<float>& out) {
  double norm = 0;
  for (size_t j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
  const double scale = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
  out.resize(dim);
  for (size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(row[j] * scale);
  return out.data();
}

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(Metric metric, size_t dim) {
  std::unique_ptr<hnswlib::SpaceInterface<float>> inner;
  if (metric == Metric::kL2) {
    inner = std::make_unique<hnswlib::L2Space>(dim);
  } else {
    inner = std::make_unique<hnswlib::InnerProductSpace>(dim);
  }
  return std::make_unique<CountingSpace>(std::move(inner));
}

class HnswIndex : public BuiltIndex {
 public:
  HnswIndex(std::unique_ptr<hnswlib::SpaceInterface<float>> space, std::unique_ptr<Graph> graph,
            Metric metric, size_t dim)
      : space_(std::move(space)), graph_(std::move(graph)), metric_(metric), dim_(dim) {}

  // setEf writes one field shared by every search of the index. Safe here: the harness applies a
  // search point before any of its queries and never while a Search or SearchBatch runs.
  absl::Status SetSearchParams(const Params& search) override {
    RETURN_IF_ERROR(CheckParamKeys(search, {"ef"}, "hnswlib search"));
    ASSIGN_OR_RETURN(const uint32_t ef, UintParam(search, "ef", 10, 1, 1u << 20));
    graph_->setEf(ef);
    return absl::OkStatus();
  }

  // Work: the distance evaluations this query made (CountingSpace), on every level.
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    std::vector<float> buffer;
    SearchOne(query, k, ids, buffer, work);
  }

  // Queries split over `threads` std::threads, as hnswlib's Python knn_query does; each query's
  // work is counted in the thread that ran it.
  void SearchBatch(const float* queries, size_t n, uint32_t k, int threads, int64_t* ids,
                   QueryWork* work) const override {
    const auto run_range = [&](size_t begin, size_t end) {
      std::vector<float> buffer;
      for (size_t i = begin; i < end; ++i) {
        SearchOne(queries + i * dim_, k, ids + i * k, buffer, &work[i]);
      }
    };
    const size_t workers = std::min<size_t>(std::max(threads, 1), n);
    if (workers <= 1) {
      run_range(0, n);
    } else {
      std::vector<std::thread> pool;
      for (size_t t = 0; t < workers; ++t) {
        pool.emplace_back(run_range, n * t / workers, n * (t + 1) / workers);
      }
      for (std::thread& thread : pool) thread.join();
    }
  }

 private:
  void SearchOne(const float* query, uint32_t k, int64_t* ids, std::vector<float>& buffer,
                 QueryWork* work) const {
    if (metric_ == Metric::kCosine) query = UnitRow(query, dim_, buffer);
    const uint64_t before = tls_distance_evaluations;
    std::fill(ids, ids + k, -1);
    try {
      // A max-heap on distance: the worst of the k comes out first.
      auto result = graph_->searchKnn(query, k);
      for (size_t slot = result.size(); slot > 0; --slot) {
        ids[slot - 1] = static_cast<int64_t>(result.top().second);
        result.pop();
      }
    } catch (const std::exception& e) {
      if (!reported_.exchange(true)) std::fprintf(stderr, "hnswlib search: %s\n", e.what());
    }
    const auto evaluations = static_cast<double>(tls_distance_evaluations - before);
    work->flops = evaluations * static_cast<double>(dim_);
    work->vectors_scanned = tls_distance_evaluations - before;
  }

  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;  // must outlive graph_
  std::unique_ptr<Graph> graph_;
  Metric metric_;
  size_t dim_;
  mutable std::atomic<bool> reported_{false};
};

// Inserts every base row from `threads` threads (hnswlib's per-node locks make addPoint safe to
// call concurrently); row 0 goes first alone so that the entry point exists.
absl::Status AddRows(const BenchData& data, int threads, Graph& graph) {
  const uint64_t n = data.base.rows;
  const size_t dim = data.base.cols;
  const bool normalize = data.metric == Metric::kCosine;
  std::atomic<uint64_t> next{1};
  std::mutex error_mutex;
  std::string error;
  const auto add = [&](uint64_t row, std::vector<float>& buffer) {
    const float* values = data.base.row(row);
    if (normalize) values = UnitRow(values, dim, buffer);
    graph.addPoint(values, static_cast<hnswlib::labeltype>(row));
  };
  const auto worker = [&] {
    std::vector<float> buffer;
    try {
      for (uint64_t begin = next.fetch_add(kAddChunk); begin < n;
           begin = next.fetch_add(kAddChunk)) {
        for (uint64_t row = begin; row < std::min(n, begin + kAddChunk); ++row) add(row, buffer);
      }
    } catch (const std::exception& e) {
      const std::lock_guard<std::mutex> lock(error_mutex);
      if (error.empty()) error = e.what();
      next = n;  // stop the other workers
    }
  };
  try {
    std::vector<float> buffer;
    add(0, buffer);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("hnswlib addPoint: ", e.what()));
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(threads, 1); ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  if (!error.empty()) return absl::InternalError(absl::StrCat("hnswlib addPoint: ", error));
  return absl::OkStatus();
}

// Bytes per vector of the built graph, from hnswlib's own layout: each element's level-0 record
// (links, vector, label), its upper-level link lists, and the per-element structures
// (hnsw_bytes.h) charged to adanns-hnsw alike.
void FillBytes(const Graph& graph, uint64_t n, BuildStats* stats) {
  double upper_links = 0;
  for (uint64_t i = 0; i < n; ++i) {
    upper_links += static_cast<double>(graph.element_levels_[i]) * graph.size_links_per_element_;
  }
  const double rows = static_cast<double>(std::max<uint64_t>(n, 1));
  stats->bytes_per_vector["full_vectors"] = static_cast<double>(graph.data_size_);
  stats->bytes_per_vector["graph"] = static_cast<double>(graph.size_links_level0_) +
                                     sizeof(hnswlib::labeltype) + upper_links / rows;
  AddHnswElementOverhead(stats->bytes_per_vector);
}

class HnswlibMethod : public Method {
 public:
  std::string name() const override { return kName; }

  // Three of M {16, 32} x efConstruction {100, 200}, to keep builds near 2 minutes: on
  // Fashion-MNIST, M=16 efC=200 (81 s to build) lay at or below M=32 efC=100 (41 s) at 11 of
  // 12 ef values.
  Grid DefaultGrid(const BenchData& data) const override {
    Grid grid;
    for (const auto& [m, ef_construction] :
         {std::pair{16u, 100u}, std::pair{32u, 100u}, std::pair{32u, 200u}}) {
      grid.builds.push_back(Params{{"M", m}, {"ef_construction", ef_construction}});
    }
    // hnswlib searches with max(ef, k): points below k repeat the ef = k point.
    for (uint32_t ef : {10u, 16u, 24u, 32u, 48u, 64u, 96u, 128u, 192u, 256u, 384u, 512u}) {
      grid.searches.push_back(Params{{"ef", ef}});
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build, {"M", "ef_construction"}, "hnswlib build"));
    ASSIGN_OR_RETURN(const uint32_t m, UintParam(build, "M", 16, 2, 1024));
    ASSIGN_OR_RETURN(const uint32_t ef_construction,
                     UintParam(build, "ef_construction", 200, 1, 1u << 20));
    const uint64_t n = data.base.rows;
    const size_t dim = data.base.cols;
    if (n == 0) return absl::InvalidArgumentError("hnswlib: no base rows");
    std::unique_ptr<hnswlib::SpaceInterface<float>> space = MakeSpace(data.metric, dim);
    const std::optional<BaselineCacheEntry> cache = BaselineCacheEntry::For(
        data, kName, {{"M", m}, {"ef_construction", ef_construction}}, "hnswlib 0.6.2");
    std::unique_ptr<Graph> graph;
    if (cache && cache->Exists() && cache->LoadStats(stats)) {
      try {
        graph = std::make_unique<Graph>(space.get(), cache->index_path());
        std::fprintf(stderr, "[cache] loaded %s\n", cache->index_path().c_str());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "[cache] ignoring %s: %s\n", cache->index_path().c_str(), e.what());
      }
    }
    if (graph == nullptr || graph->cur_element_count != n) {
      try {
        graph = std::make_unique<Graph>(space.get(), n, m, ef_construction, kRandomSeed);
      } catch (const std::exception& e) {
        return absl::ResourceExhaustedError(absl::StrCat("hnswlib: ", e.what()));
      }
      const auto start = std::chrono::steady_clock::now();
      RETURN_IF_ERROR(AddRows(data, threads, *graph));
      stats->train_s = 0;
      stats->encode_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (cache) {
        graph->saveIndex(cache->temp_path());  // std::ofstream: a failure shows at Commit
        if (absl::Status committed = cache->Commit(*stats); !committed.ok()) {
          std::fprintf(stderr, "[cache] %s\n", committed.ToString().c_str());
        }
      }
    }
    FillBytes(*graph, n, stats);
    return std::unique_ptr<BuiltIndex>(
        new HnswIndex(std::move(space), std::move(graph), data.metric, dim));
  }
};

ADANNS_REGISTER_METHOD("hnswlib", HnswlibMethod);

}  // namespace
}  // namespace adanns::bench
