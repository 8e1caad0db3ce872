// `adanns-tiered`: memory tiers as the server serves them. The full vectors go into a real RocksDB
// in a temp dir (flushed to SST files, read with O_DIRECT through a block cache sized per build
// point); the table keeps only the resident prefix, an index (or none: the funnel) runs on it, and
// the exact re-rank reads its candidates' full vectors from RocksDB, one MultiGet per query.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bench/harness/method.h"
#include "bench/harness/params.h"
#include "bench/methods/hnsw_bytes.h"
#include "bench/methods/vector_table_index.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "server/stored_vectors.h"
#include "storage/rocks_store.h"

namespace adanns::bench {
namespace {

// Index kinds of the `index` build parameter.
constexpr double kFunnel = 0, kIvf = 1, kHnsw = 2;
constexpr size_t kLoadBatchRows = 4096;

// A store in a fresh temp dir, removed with it.
struct TempStore {
  std::string dir;
  std::unique_ptr<storage::RocksStore> store;
  ~TempStore() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

absl::StatusOr<std::unique_ptr<TempStore>> OpenTempStore(size_t block_cache_bytes) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/adanns-tiered-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make a temp dir from ", pattern));
  }
  auto temp = std::make_unique<TempStore>();
  temp->dir = pattern;
  storage::StoreOptions options;
  options.sync_writes = false;  // a bulk load the benchmark does not measure
  options.block_cache_bytes = block_cache_bytes;
  options.use_direct_reads = true;  // the block cache is the only cache of full vectors
  ASSIGN_OR_RETURN(temp->store, storage::RocksStore::Open(temp->dir + "/db", options));
  return temp;
}

// The tiered table and its index, with the store its re-rank reads; searches go to `served`.
// One search grid serves every kind: a point's key of another kind (nprobe for a graph, ef for an
// IVF, both for the funnel) is dropped, and the points that then name the same plan are measured
// once (the harness merges them).
class TieredIndex : public BuiltIndex {
 public:
  TieredIndex(std::unique_ptr<TempStore> store, std::unique_ptr<server::WorkerPool> readers,
              std::unique_ptr<server::StoredVectors> stored)
      : store_(std::move(store)), readers_(std::move(readers)), stored_(std::move(stored)) {}
  void set_served(std::unique_ptr<BuiltIndex> served, std::vector<std::string> foreign_keys) {
    served_ = std::move(served);
    foreign_keys_ = std::move(foreign_keys);
  }

  absl::Status SetSearchParams(const Params& search) override {
    Params own = search;
    for (const std::string& key : foreign_keys_) own.erase(key);
    return served_->SetSearchParams(own);
  }
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override {
    served_->Search(query, k, ids, work);
  }
  std::string PointPlan(uint32_t k) const override { return served_->PointPlan(k); }
  std::optional<BlockCacheCounters> block_cache_counters() const override {
    const storage::RocksStore::BlockCacheStats stats = store_->store->block_cache_stats();
    return BlockCacheCounters{stats.hits, stats.misses};
  }

 private:
  // Destroyed last to first: the served table reads through stored_, which reads store_.
  std::unique_ptr<TempStore> store_;
  std::unique_ptr<server::WorkerPool> readers_;
  std::unique_ptr<server::StoredVectors> stored_;
  std::unique_ptr<BuiltIndex> served_;
  std::vector<std::string> foreign_keys_;
};

class AdannsTieredMethod : public Method {
 public:
  std::string name() const override { return "adanns-tiered"; }

  // Resident prefixes of 32 and 64 dims with the block cache at 10% of the vector bytes: the
  // funnel, an IVF (d_c 32, d_s = the prefix) and a graph on the prefix, swept over their search
  // parameter and the re-rank depth.
  Grid DefaultGrid(const BenchData& data) const override {
    const double dim = static_cast<double>(data.base.cols);
    const double nlist = DefaultIvfNlist(data.base.rows);
    Grid grid;
    for (const double resident : {32.0, 64.0}) {
      const double prefix = std::min(dim, resident);
      grid.builds.push_back(
          {{"resident_dims", prefix}, {"cache_fraction", 0.1}, {"index", kFunnel}});
      grid.builds.push_back({{"resident_dims", prefix},
                             {"cache_fraction", 0.1},
                             {"index", kIvf},
                             {"nlist", nlist},
                             {"coarse_dims", std::min(prefix, 32.0)}});
      grid.builds.push_back({{"resident_dims", prefix}, {"cache_fraction", 0.1}, {"index", kHnsw}});
    }
    for (const double candidates : {50, 100, 200, 400}) {
      grid.searches.push_back({{"rerank_candidates", candidates}});
      for (const double nprobe : {4, 8, 16, 32}) {
        grid.searches.push_back({{"nprobe", nprobe}, {"rerank_candidates", candidates}});
      }
      for (const double ef : {64, 128, 256}) {
        if (ef >= candidates)
          grid.searches.push_back({{"ef", ef}, {"rerank_candidates", candidates}});
      }
    }
    return grid;
  }

  absl::StatusOr<std::unique_ptr<BuiltIndex>> Build(const BenchData& data, const Params& build,
                                                    int threads, BuildStats* stats) const override {
    RETURN_IF_ERROR(CheckParamKeys(build,
                                   {"resident_dims", "precision", "cache_fraction", "fetch_threads",
                                    "index", "nlist", "coarse_dims", "M", "ef_construction"},
                                   "adanns-tiered build"));
    const auto dim = static_cast<uint32_t>(data.base.cols);
    const uint64_t rows = data.base.rows;
    ASSIGN_OR_RETURN(const uint32_t resident, UintParam(build, "resident_dims", 64, 1, dim));
    // 0 fp32, 1 fp16, 2 int8 (index::Precision's values).
    ASSIGN_OR_RETURN(const uint32_t precision_code, UintParam(build, "precision", 0, 0, 2));
    const auto precision = static_cast<index::Precision>(precision_code);
    const double cache_fraction = build.count("cache_fraction") ? build.at("cache_fraction") : 0.1;
    if (!(cache_fraction > 0 && cache_fraction <= 10)) {
      return absl::InvalidArgumentError("adanns-tiered build: cache_fraction must be in (0, 10]");
    }
    const double kind = build.count("index") ? build.at("index") : kFunnel;
    const double vector_bytes = double(rows) * dim * sizeof(float);
    const auto cache_bytes =
        std::max<size_t>(size_t{1} << 20, static_cast<size_t>(cache_fraction * vector_bytes));

    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(std::unique_ptr<TempStore> store, OpenTempStore(cache_bytes));
    storage::CollectionMeta meta;
    meta.name = "bench";
    meta.dim = dim;
    meta.metric = data.metric;
    meta.resident_dims = resident == dim ? 0 : resident;
    ASSIGN_OR_RETURN(meta, store->store->CreateCollection(meta));
    auto table = std::make_unique<index::VectorTable>(dim, resident, precision);
    std::vector<uint64_t> ids;
    for (uint64_t first = 0; first < rows; first += kLoadBatchRows) {
      const uint64_t n = std::min<uint64_t>(kLoadBatchRows, rows - first);
      ids.resize(n);
      for (uint64_t i = 0; i < n; ++i) {
        ids[i] = first + i;
        table->Upsert(first + i, std::span<const float>(data.base.row(first + i), dim));
      }
      RETURN_IF_ERROR(store->store->PutVectors(
          meta.id, dim, ids, std::span<const float>(data.base.row(first), n * dim)));
    }
    RETURN_IF_ERROR(store->store->Flush());  // reads come from SST files, as for old data
    // The server's reader pool (--fetch_threads, default 8).
    ASSIGN_OR_RETURN(const uint32_t fetch_threads, UintParam(build, "fetch_threads", 8, 1, 256));
    auto readers = std::make_unique<server::WorkerPool>("adanns-fetch", fetch_threads);
    auto stored = std::make_unique<server::StoredVectors>(store->store.get(), meta.id, dim,
                                                          server::FetchObserver(), readers.get());
    table->set_stored_rows(stored.get());
    const double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    auto tiered =
        std::make_unique<TieredIndex>(std::move(store), std::move(readers), std::move(stored));
    stats->bytes_per_vector["resident_table"] = double(table->memory_bytes()) / double(rows);
    stats->bytes_per_vector["block_cache"] = double(cache_bytes) / double(rows);
    const auto index_start = std::chrono::steady_clock::now();
    if (kind == kFunnel) {
      tiered->set_served(
          std::make_unique<VectorTableIndex>(std::move(table), data.metric, /*rerank=*/true),
          {"nprobe", "ef"});
    } else if (kind == kIvf) {
      index::IvfBuildParams params;
      ASSIGN_OR_RETURN(params.nlist, UintParam(build, "nlist", DefaultIvfNlist(rows), 1,
                                               static_cast<uint32_t>(rows)));
      ASSIGN_OR_RETURN(params.coarse_dims, UintParam(build, "coarse_dims", 32, 1, resident));
      params.search_dims = resident;
      ASSIGN_OR_RETURN(std::unique_ptr<index::IvfIndex> ivf,
                       index::IvfIndex::Build(*table, data.metric, params, {}));
      stats->bytes_per_vector["index"] = double(ivf->memory_bytes()) / double(rows);
      tiered->set_served(
          std::make_unique<ServedIndexAdapter>(std::move(table), data.metric, std::move(ivf)),
          {"ef"});
    } else if (kind == kHnsw) {
      index::HnswBuildParams params;
      params.graph_dims = resident;
      ASSIGN_OR_RETURN(params.m, UintParam(build, "M", 16, 2, 256));
      ASSIGN_OR_RETURN(params.ef_construction, UintParam(build, "ef_construction", 100, 1, 100000));
      ASSIGN_OR_RETURN(std::unique_ptr<index::HnswIndex> graph,
                       index::HnswIndex::Build(*table, data.metric, params, threads));
      stats->bytes_per_vector["index"] = double(graph->stats().graph_bytes) / double(rows);
      AddHnswElementOverhead(stats->bytes_per_vector);
      tiered->set_served(
          std::make_unique<ServedIndexAdapter>(std::move(table), data.metric, std::move(graph)),
          {"nprobe"});
    } else {
      return absl::InvalidArgumentError(
          "adanns-tiered build: index must be 0 (funnel), 1 (ivf) or 2 (hnsw)");
    }
    const auto end = std::chrono::steady_clock::now();
    stats->encode_s = load_s;
    stats->train_s = std::chrono::duration<double>(end - index_start).count();
    stats->build_s = std::chrono::duration<double>(end - start).count();
    return tiered;
  }
};

ADANNS_REGISTER_METHOD("adanns-tiered", AdannsTieredMethod);

}  // namespace
}  // namespace adanns::bench
