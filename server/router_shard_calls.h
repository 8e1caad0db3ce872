// The router's calls to every shard of a route (server/router.h): the same request to each, to
// every copy of each, and the rule that turns their replies into one status. Internal to the
// router's sources.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "server/router.h"
#include "server/shard_fanout.h"

namespace adanns::server {

// The first verdict a shard gave on the request (every shard validates alike), else UNAVAILABLE
// naming the first shard that could not answer; OK when all answered OK.
template <typename Response>
absl::Status CombineReplies(const std::vector<ShardReply<Response>>& replies,
                            const Router::Route& route) {
  for (size_t i = 0; i < replies.size(); ++i) {
    const grpc::Status& status = replies[i].status;
    if (!status.ok() && !ShardUnreachable(status)) return ShardVerdict(route.node_ids[i], status);
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].status.ok()) {
      return ShardUnavailable(route.record.spec().name(), i, route.node_ids[i], replies[i].status);
    }
  }
  return absl::OkStatus();
}

// The same shard request (the public request with the shard number) to every shard of `route`;
// `call(stub, context, request, response, done)` starts one call.
template <typename ShardRequest, typename Response, typename Request, typename Call>
std::vector<ShardReply<Response>> ToEveryShard(const Router::Route& route, const Request& request,
                                               Router::Deadline deadline, Call call) {
  std::vector<ShardRequest> requests(route.shard_count());
  for (uint32_t shard = 0; shard < route.shard_count(); ++shard) {
    requests[shard].set_shard(shard);
    *requests[shard].mutable_request() = request;
  }
  return FanOut<Response>(route.shard_count(), deadline,
                          [&](size_t i, grpc::ClientContext* context, Response* response,
                              std::function<void(grpc::Status)> done) {
                            if (!ShardCallable(route, i, done)) return;
                            call(*route.stubs[i], context, &requests[i], response, std::move(done));
                          });
}

template <typename Call>
absl::Status Router::OnEveryCopy(const Route& route, Call&& call) {
  absl::Status first = absl::OkStatus();
  for (size_t c = 0; c < route.copies(); ++c) {
    absl::Status status = call(route.OnCopy(c), c == 0);
    if (first.ok() && !status.ok()) first = std::move(status);
  }
  return first;
}

}  // namespace adanns::server
