// Router: index builds and drops and calibration, on every copy of every shard (router.h).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/router.h"
#include "server/router_shard_calls.h"
#include "server/validation.h"

namespace adanns::server {

absl::Status Router::BuildIndex(const v1::BuildIndexRequest& request,
                                v1::BuildIndexResponse* response, Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection()));
  if (request.has_ivf() && request.ivf().nlist() > 0) {
    // Each shard trains its own lists: refuse here, before any shard starts, when one shard
    // holds fewer vectors than lists (a shard would refuse alone, naming only its own count).
    // The parameters' own checks come first; a shard that did not answer is left to the
    // fan-out below, which reports it UNAVAILABLE.
    RETURN_IF_ERROR(IvfParamsFromProto(request.ivf(), route.record.spec().dim()).status());
    v1::CollectionInfo info;
    RETURN_IF_ERROR(DescribeCollection(request.collection(), &info, deadline));
    for (const v1::ShardInfo& shard : info.shards()) {
      if (shard.state() == "serving" && shard.vector_count() < request.ivf().nlist()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ivf.nlist (", request.ivf().nlist(), ") exceeds the vectors of shard ", shard.shard(),
            " (", shard.vector_count(), " of the collection's ", info.vector_count(),
            "; each of its ", info.shards_size(), " shards trains its own lists)"));
      }
    }
  }
  // Every copy builds its own index from its own data (derived state is never replicated).
  return OnEveryCopy(route, [&](const Route& copy, bool primaries) {
    auto replies = ToEveryShard<v1::ShardBuildIndexRequest, v1::BuildIndexResponse>(
        copy, request, deadline,
        [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
           const v1::ShardBuildIndexRequest* part, v1::BuildIndexResponse* reply,
           std::function<void(grpc::Status)> done) {
          stub.async()->BuildIndex(context, part, reply, std::move(done));
        });
    RETURN_IF_ERROR(CombineReplies(replies, copy));
    if (primaries) *response = std::move(replies.front().response);
    return absl::OkStatus();
  });
}

absl::Status Router::DropIndex(const v1::DropIndexRequest& request, Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection()));
  return OnEveryCopy(route, [&](const Route& copy, bool) {
    const auto replies = ToEveryShard<v1::ShardDropIndexRequest, v1::DropIndexResponse>(
        copy, request, deadline,
        [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
           const v1::ShardDropIndexRequest* part, v1::DropIndexResponse* reply,
           std::function<void(grpc::Status)> done) {
          stub.async()->DropIndex(context, part, reply, std::move(done));
        });
    return CombineReplies(replies, copy);
  });
}

absl::Status Router::Calibrate(const v1::CalibrateRequest& request, v1::CalibrationInfo* response,
                               Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection()));
  RETURN_IF_ERROR(OnEveryCopy(route, [&](const Route& copy, bool primaries) {
    auto replies = ToEveryShard<v1::ShardCalibrateRequest, v1::CalibrationInfo>(
        copy, request, deadline,
        [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
           const v1::ShardCalibrateRequest* part, v1::CalibrationInfo* reply,
           std::function<void(grpc::Status)> done) {
          stub.async()->Calibrate(context, part, reply, std::move(done));
        });
    RETURN_IF_ERROR(CombineReplies(replies, copy));
    if (primaries) *response = std::move(replies.front().response);
    return absl::OkStatus();
  }));
  StartMergedCalibration(request, route);
  ShowMergedCalibration(route, response);
  return absl::OkStatus();
}

}  // namespace adanns::server
