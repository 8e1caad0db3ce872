// Our methods as the harness sees them: data.base in an index::VectorTable (row i = id i),
// searched flat at a prefix (optionally with the funnel's exact re-rank) or through a served
// index, every query on the server's per-request path (SearchAsTheServer).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/harness/method.h"
#include "index/calibration.h"
#include "index/plan.h"
#include "index/served_index.h"
#include "index/vector_table.h"

namespace adanns::bench {

// What Collection::Search does for one query below the transport: PlanSearch (the budget's
// explicit plan resolved, or a target/cap planned on `calibration`) and RunPlan over `ready`.
// Inside every adanns method's timed Search, so planning is measured as the server pays it. A
// budget that cannot be planned gives no hits (the server answers an error status).
index::SearchResult SearchAsTheServer(const index::Budget& budget, const index::VectorTable& table,
                                      Metric metric, std::span<const uint32_t> nesting_dims,
                                      std::span<const float> query, uint32_t k,
                                      std::span<const index::ServedIndex* const> ready,
                                      const index::Calibration* calibration);

// The plan PlanSearch gives `budget` for k, as text (PlanText, then what calibration measured for
// it: recall, its lower bound, queries); empty when it cannot be planned.
std::string PlanAsTheServerText(const index::Budget& budget, const index::VectorTable& table,
                                Metric metric, std::span<const uint32_t> nesting_dims, uint32_t k,
                                std::span<const index::ServedIndex* const> ready,
                                const index::Calibration* calibration);

// "hnsw ef=64 rerank_candidates=100 rerank_dims=784": the index, then every field set.
std::string PlanText(const index::Plan& plan);

// Fills the harness's ids (padded with -1) and work from a search result.
void ReportResult(const index::SearchResult& result, uint32_t k, int64_t* ids, QueryWork* work);

class VectorTableIndex : public BuiltIndex {
 public:
  // `rerank` selects the funnel's parameters (search_dims, rerank_candidates, rerank_dims)
  // instead of flat's (search_dims).
  VectorTableIndex(std::unique_ptr<index::VectorTable> table, Metric metric, bool rerank)
      : table_(std::move(table)), metric_(metric), rerank_(rerank) {}

  absl::Status SetSearchParams(const Params& search) override;
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override;
  std::string PointPlan(uint32_t k) const override;

 private:
  std::unique_ptr<index::VectorTable> table_;
  Metric metric_;
  bool rerank_;
  index::Budget budget_;  // the point's explicit plan, resolved per query as the server does
};

// data.base as a table (row i = id i).
std::unique_ptr<index::VectorTable> MakeBaseTable(const BenchData& data);

// One of our served indexes (IVF, HNSW, OPQ) over its table, searched with the plan a search
// point names: keys nprobe, coarse_dims, search_dims, rerank_candidates, rerank_dims, ef; the
// index resolves the rest from its defaults and refuses what it does not hold, as the server
// does. With a `source` (an IVF), `index` (a codebook) scores the source's candidates: the
// composite "ivf_opq" plan.
class ServedIndexAdapter : public BuiltIndex {
 public:
  ServedIndexAdapter(std::unique_ptr<index::VectorTable> table, Metric metric,
                     std::unique_ptr<index::ServedIndex> index,
                     std::unique_ptr<index::ServedIndex> source = nullptr)
      : table_(std::move(table)),
        metric_(metric),
        index_(std::move(index)),
        source_(std::move(source)) {
    ready_.push_back(index_.get());
    if (source_) ready_.push_back(source_.get());
  }

  absl::Status SetSearchParams(const Params& search) override;
  void Search(const float* query, uint32_t k, int64_t* ids, QueryWork* work) const override;
  std::string PointPlan(uint32_t k) const override;

 private:
  std::unique_ptr<index::VectorTable> table_;
  Metric metric_;
  std::unique_ptr<index::ServedIndex> index_;
  std::unique_ptr<index::ServedIndex> source_;
  std::vector<const index::ServedIndex*> ready_;  // index_ (and source_)
  index::Budget budget_;  // the point's explicit plan, resolved per query as the server does
};

// Copies data.base into a table; fills stats (full vectors: dim * 4 bytes each).
absl::StatusOr<std::unique_ptr<BuiltIndex>> BuildVectorTableIndex(const BenchData& data,
                                                                  bool rerank, BuildStats* stats);

}  // namespace adanns::bench
