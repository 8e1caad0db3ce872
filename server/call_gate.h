// What every public RPC goes through, on a standalone server and on a router alike: the API-key
// check for the call's role, the request metric, and the status mapped to gRPC.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "server/auth.h"
#include "server/metrics.h"

namespace adanns::server {

class CallGate {
 public:
  // `api_keys` null: no authentication.
  CallGate(std::shared_ptr<const ApiKeys> api_keys, Metrics* metrics)
      : api_keys_(std::move(api_keys)), metrics_(metrics) {}

  // OK when API keys are off or the caller's key allows `role`.
  absl::Status Authorize(const grpc::ServerContextBase& context, Role role) const;
  // Runs `call` when Authorize allows it, records the request (`method`, its code, the time since
  // `start`) and maps the status to gRPC.
  grpc::Status Finish(const char* method, std::chrono::steady_clock::time_point start,
                      const grpc::ServerContextBase& context, Role role,
                      const std::function<absl::Status()>& call) const;

 private:
  std::shared_ptr<const ApiKeys> api_keys_;
  Metrics* metrics_;
};

}  // namespace adanns::server
