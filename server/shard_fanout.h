// Calls to many shards at once, over gRPC's callback API (no thread per call), and the rule that
// turns their failures into one status.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "adanns/v1/cluster.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/grpc_status.h"

namespace adanns::server {

template <typename Response>
struct ShardReply {
  grpc::Status status;
  Response response;
};

// Starts `start(i, context, response, done)` for i in [0, n) (each must call `done` exactly once,
// e.g. by passing it to a stub's async() method) and waits for all of them.
template <typename Response>
std::vector<ShardReply<Response>> FanOut(
    size_t n, std::chrono::system_clock::time_point deadline,
    const std::function<void(size_t, grpc::ClientContext*, Response*,
                             std::function<void(grpc::Status)>)>& start) {
  std::vector<ShardReply<Response>> replies(n);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts(n);
  absl::BlockingCounter pending(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    contexts[i] = std::make_unique<grpc::ClientContext>();
    contexts[i]->set_deadline(deadline);
    start(i, contexts[i].get(), &replies[i].response, [&replies, &pending, i](grpc::Status status) {
      replies[i].status = std::move(status);
      pending.DecrementCount();
    });
  }
  pending.Wait();
  return replies;
}

// A shard that could not answer (its node down, slow or without the shard) as opposed to one that
// answered with a verdict on the request (INVALID_ARGUMENT, OUT_OF_RANGE, ...), which every shard
// gives alike since they validate with the same code.
inline bool ShardUnreachable(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNIMPLEMENTED:  // not a data node
      return true;
    case grpc::StatusCode::NOT_FOUND:  // the node does not hold the shard, or a verdict
      return status.error_details() == kShardNotHeldDetail;
    default:
      return false;
  }
}

// A shard's verdict on the request, as the router's answer. UNAUTHENTICATED from a data node
// means the router's cluster key is wrong — a misconfiguration of the cluster, not of the
// client's credentials: INTERNAL, naming the node.
inline absl::Status ShardVerdict(const std::string& node_id, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::InternalError(
        absl::StrCat("data node ", node_id, " refused this router: ", status.error_message()));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// UNAVAILABLE naming the shard and its node, for a shard that could not answer.
inline absl::Status ShardUnavailable(const std::string& collection, size_t shard,
                                     const std::string& node_id, const grpc::Status& status) {
  return absl::UnavailableError(absl::StrCat("collection '", collection, "' shard ", shard,
                                             " (node ", node_id, "): ", status.error_message()));
}

// Whether shard `i` of `route` can be called now; when not, `done` finishes its call: OK for a
// shard the route has no copy of (Router::Route::OnCopy of a copy only some shards have),
// UNAVAILABLE when its node is not live.
template <typename Route>
bool ShardCallable(const Route& route, size_t i, const std::function<void(grpc::Status)>& done) {
  if (route.stubs[i] != nullptr) return true;
  done(route.node_ids[i].empty() ? grpc::Status::OK
                                 : grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is not live"));
  return false;
}

// A ShardRequest (collection and shard number) to every shard of `route`; `call(stub, context,
// request, response, done)` starts one call.
template <typename Response, typename Route, typename Call>
std::vector<ShardReply<Response>> ToEveryShardByName(const Route& route,
                                                     const std::string& collection,
                                                     std::chrono::system_clock::time_point deadline,
                                                     Call call) {
  std::vector<v1::ShardRequest> requests(route.shard_count());
  return FanOut<Response>(route.shard_count(), deadline,
                          [&](size_t i, grpc::ClientContext* context, Response* response,
                              std::function<void(grpc::Status)> done) {
                            requests[i].set_collection(collection);
                            requests[i].set_shard(static_cast<uint32_t>(i));
                            if (!ShardCallable(route, i, done)) return;
                            call(*route.stubs[i], context, &requests[i], response, std::move(done));
                          });
}

}  // namespace adanns::server
