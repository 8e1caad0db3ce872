// Request validation and proto <-> index conversion for the transport layer. Every check returns
// INVALID_ARGUMENT (or the precise code) with a message naming the offending field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adanns/v1/adanns.pb.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "index/plan.h"
#include "quant/opq_index.h"
#include "server/collection.h"
#include "storage/collection_meta.h"

namespace adanns::server {

// A read-only view of a repeated scalar proto field.
template <typename T>
std::span<const T> AsSpan(const google::protobuf::RepeatedField<T>& field) {
  return {field.data(), static_cast<size_t>(field.size())};
}

inline constexpr size_t kMaxNameLength = 128;
inline constexpr uint32_t kMaxDim = 65536;
inline constexpr size_t kMaxVectorsPerMessage = 100000;
inline constexpr size_t kMaxIdsPerRequest = 100000;
inline constexpr size_t kMaxBatchQueries = 10000;
inline constexpr size_t kMaxBatchHits = 1000000;  // n * k per SearchBatch

absl::Status ValidateCollectionName(const std::string& name, absl::string_view field);
// Validates and converts; nesting dims stay empty when the request leaves them out.
absl::StatusOr<storage::CollectionMeta> MetaFromCreateRequest(
    const v1::CreateCollectionRequest& request);
// NaN and infinities are refused, naming `what` and the index of the first bad value.
absl::Status ValidateFinite(std::span<const float> values, absl::string_view what);
absl::Status ValidateIdCount(size_t count, absl::string_view field);
// Checks every vector of an upsert message has `dim` finite values.
absl::Status ValidateUpsertVectors(const v1::UpsertRequest& request, uint32_t dim);
// SearchRequest.device; INVALID_ARGUMENT for a value this server does not know.
absl::StatusOr<SearchDevice> DeviceFromProto(v1::Device device);
// Budget conversion; target_recall must be in (0, 1] (max_dims is checked by the planner).
absl::StatusOr<index::Budget> BudgetFromProto(const v1::Budget& budget);

// IVF build parameters; 0 keeps the default. INVALID_ARGUMENT for values no collection takes.
absl::StatusOr<index::IvfBuildParams> IvfParamsFromProto(const v1::IvfParams& params, uint32_t dim);
// HnswParams (0 = default) with range checks against the collection's dim.
// One codebook build per spec (INVALID_ARGUMENT for a spec the collection cannot take).
absl::StatusOr<std::vector<quant::OpqBuildParams>> OpqParamsFromProto(const v1::OpqParams& params,
                                                                      uint32_t dim);
absl::StatusOr<index::HnswBuildParams> HnswParamsFromProto(const v1::HnswParams& params,
                                                           uint32_t dim);

void PlanToProto(const index::Plan& plan, v1::Plan* out);
// One query's result, with the planner's estimate and target outcome for the whole request.
void ResultToProto(const index::SearchResult& result, const SearchOutcome& outcome,
                   v1::SearchResponse* out);
void CalibrationToProto(const CalibrationStatus& status, v1::CalibrationInfo* out);
void IndexStatusToProto(const IndexStatus& status, v1::IndexInfo* out);
void FillCollectionInfo(const Collection& collection, v1::CollectionInfo* out);

}  // namespace adanns::server
