// absl::Status -> grpc::Status: the two share their codes, so the conversion keeps the code and
// the message.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace adanns::server {

// grpc::Status::error_details of a data node's NOT_FOUND for a shard it does not hold, which the
// router must tell apart from a shard's verdict on the request (an unknown index, say: also
// NOT_FOUND) — the first means the shard could not answer, the second is the answer.
inline constexpr char kShardNotHeldDetail[] = "adanns.v1.ShardNotHeld";
// ... and of a primary's refusal of a Replicate stream whose follower must be copied whole.
inline constexpr char kFullCopyNeededDetail[] = "adanns.v1.FullCopyNeeded";

inline grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace adanns::server
