// Collection: what memory tiers add to the write and load paths: the fp16 range rule, and the
// int8 resident prefix's learned parameters (persisted so a restart encodes rows as before).
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/float16.h"
#include "index/prefix_codec.h"
#include "server/collection.h"
#include "spdlog/spdlog.h"

namespace adanns::server {

absl::Status Collection::CheckFitsFloat16Storage(const UpsertBatch& batch) const {
  const bool gpu_fp16 = options_.gpu.storage == index::gpu::Storage::kFloat16;
  const bool table_fp16 = table_.precision() == index::Precision::kFloat16;
  if (!gpu_fp16 && !table_fp16) return absl::OkStatus();
  // The values held as fp16: the resident prefix in the table; every dim the GPU may mirror.
  const uint32_t checked = gpu_fp16 ? meta_.dim : table_.resident_dims();
  for (size_t i = 0; i < batch.ids.size(); ++i) {
    const std::span<const float> vector(batch.rows[i], checked);
    if (const auto at = index::FirstOutsideFloat16(vector)) {
      const std::string holder =
          table_fp16 && *at < table_.resident_dims()
              ? absl::StrCat("collection '", meta_.name,
                             "' keeps its resident prefix as fp16 (resident_precision FP16)")
              : "this server keeps rows on the GPU as fp16 (--gpu_storage=fp16)";
      return absl::InvalidArgumentError(
          absl::StrCat("vector id ", batch.ids[i], " has ", vector[*at], " at index ", *at, ": ",
                       holder, ", which holds values up to ", index::kFloat16Max, " in magnitude"));
    }
  }
  return absl::OkStatus();
}

absl::Status Collection::LoadInt8Params() {
  if (table_.precision() != index::Precision::kInt8) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::optional<std::string> blob,
                   store_->GetIndexBlob(meta_.id, kResidentInt8Blob));
  if (!blob.has_value()) return absl::OkStatus();  // not learned yet (or lost to a crash)
  absl::StatusOr<index::Int8Params> params = index::DeserializeInt8Params(*blob);
  absl::Status installed = params.ok() ? table_.SetInt8Params(*std::move(params)) : params.status();
  if (!installed.ok()) {
    spdlog::error(
        "collection '{}': its stored int8 parameters are unusable ({}); they are "
        "learned again from the data",
        meta_.name, installed.ToString());
    return absl::OkStatus();
  }
  int8_params_persisted_ = true;
  return absl::OkStatus();
}

void Collection::PersistInt8ParamsIfLearned() {
  // Unlocked: the parameters change only inside table_.Upsert, which only the applier thread (or
  // Load, before it runs) calls, and those are this function's callers.
  const index::Int8Params* params = table_.int8_params();
  if (params == nullptr || int8_params_persisted_) return;
  if (absl::Status status =
          store_->PutIndexBlob(meta_.id, kResidentInt8Blob, index::SerializeInt8Params(*params));
      !status.ok()) {
    spdlog::error("collection '{}': could not persist its int8 parameters: {}", meta_.name,
                  status.ToString());
    return;
  }
  int8_params_persisted_ = true;
}

}  // namespace adanns::server
