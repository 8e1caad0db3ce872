// libFuzzer target: the transport's request checks and conversions (server/validation.h) on v1
// requests parsed from arbitrary bytes, and for searches the path a request takes after them:
// budget planning over a real IVF, graph and codebook, and the search itself. The first byte
// picks the request type.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "index/budget_planner.h"
#include "index/flat_search.h"
#include "server/validation.h"
#include "tests/fuzz/fuzz_world.h"

namespace adanns::fuzz {
namespace {

// What AdannsService::DoSearch / DoSearchBatch do once the collection is found.
void Search(std::span<const float> queries, uint32_t query_dims, uint32_t k,
            const v1::Budget& proto_budget) {
  if (k == 0 || k > index::kMaxK || query_dims == 0 || query_dims > kDim) return;
  if (queries.empty() || queries.size() % query_dims != 0) return;
  if (!server::ValidateFinite(queries, "queries").ok()) return;
  const absl::StatusOr<index::Budget> budget = server::BudgetFromProto(proto_budget);
  if (!budget.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(budget.status()));
    return;
  }
  const FuzzWorld& world = World();
  const auto choice = index::PlanSearch(*budget, world.shape(), k, world.ready, &world.calibration);
  if (!choice.ok()) {
    FUZZ_CHECK(!absl::IsInternal(choice.status()) && !choice.status().message().empty());
    return;
  }
  const index::Plan& plan = choice->plan;
  FUZZ_CHECK(plan.search_dims.has_value() && *plan.search_dims <= kDim);
  if (budget->max_dims.has_value()) FUZZ_CHECK(plan.QueryDimsNeeded() <= *budget->max_dims);
  if (query_dims < plan.QueryDimsNeeded()) return;
  const size_t n = std::min<size_t>(queries.size() / query_dims, 4);
  for (size_t q = 0; q < n; ++q) {
    const index::SearchResult result = index::RunPlan(
        plan, world.table, kMetric, queries.subspan(q * query_dims, query_dims), k, world.ready);
    FUZZ_CHECK(result.hits.size() <= k);
    FUZZ_CHECK(std::isfinite(result.cost.mflops) && result.cost.mflops >= 0);
  }
}

template <typename Message>
bool Parse(std::string_view bytes, Message* message) {
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

void FuzzRequest(uint8_t kind, std::string_view bytes) {
  // Unparsable input is the common case here; protobuf would log every one.
  static const bool silenced = [] {
    google::protobuf::SetLogHandler(
        [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    return true;
  }();
  (void)silenced;
  switch (kind % 6) {
    case 0: {
      v1::SearchRequest request;
      if (!Parse(bytes, &request)) return;
      Search(server::AsSpan(request.query()), static_cast<uint32_t>(request.query_size()),
             request.k(), request.budget());
      break;
    }
    case 1: {
      v1::SearchBatchRequest request;
      if (!Parse(bytes, &request)) return;
      Search(server::AsSpan(request.queries()), request.query_dims(), request.k(),
             request.budget());
      break;
    }
    case 2: {
      v1::UpsertRequest request;
      if (!Parse(bytes, &request)) return;
      if (!server::ValidateCollectionName(request.collection(), "collection").ok()) return;
      if (server::ValidateUpsertVectors(request, kDim).ok()) {
        for (const v1::Vector& v : request.vectors()) {
          FUZZ_CHECK(v.values_size() == static_cast<int>(kDim));
          for (float x : v.values()) FUZZ_CHECK(std::isfinite(x));
        }
      }
      break;
    }
    case 3: {
      v1::CreateCollectionRequest request;
      if (!Parse(bytes, &request)) return;
      const auto meta = server::MetaFromCreateRequest(request);
      if (!meta.ok()) return;
      FUZZ_CHECK(meta->dim >= 1 && meta->dim <= server::kMaxDim);
      uint32_t previous = 0;
      for (uint32_t d : meta->nesting_dims) {
        FUZZ_CHECK(d > previous && d <= meta->dim);
        previous = d;
      }
      break;
    }
    case 4: {
      v1::BuildIndexRequest request;
      if (!Parse(bytes, &request)) return;
      if (const auto ivf = server::IvfParamsFromProto(request.ivf(), kDim); ivf.ok()) {
        const auto decoded = index::DecodeBuildParams(index::EncodeBuildParams(*ivf));
        FUZZ_CHECK(decoded.ok() && decoded->nlist == ivf->nlist && decoded->seed == ivf->seed);
      }
      if (const auto hnsw = server::HnswParamsFromProto(request.hnsw(), kDim); hnsw.ok()) {
        const auto decoded = index::DecodeHnswBuildParams(index::EncodeHnswBuildParams(*hnsw));
        FUZZ_CHECK(decoded.ok() && decoded->m == hnsw->m &&
                   decoded->graph_dims == hnsw->graph_dims);
      }
      if (const auto opq = server::OpqParamsFromProto(request.opq(), kDim); opq.ok()) {
        for (const quant::OpqBuildParams& params : *opq) {
          FUZZ_CHECK(ValidateCodebookSpec(params.spec, kDim).ok());
          FUZZ_CHECK(quant::DecodeOpqBuildParams(quant::EncodeOpqBuildParams(params)).ok());
        }
      }
      break;
    }
    default: {
      v1::UpdateCollectionRequest request;
      if (!Parse(bytes, &request)) return;
      std::vector<float> query(World().table.RowData(2), World().table.RowData(2) + kDim);
      Search(query, kDim, 10, request.default_budget());
      break;
    }
  }
}

}  // namespace
}  // namespace adanns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  adanns::fuzz::FuzzRequest(data[0],
                            std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
