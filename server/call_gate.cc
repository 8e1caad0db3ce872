#include "server/call_gate.h"

#include <string_view>

#include "server/grpc_status.h"

namespace adanns::server {

absl::Status CallGate::Authorize(const grpc::ServerContextBase& context, Role role) const {
  if (api_keys_ == nullptr) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  const std::string_view authorization =
      found == metadata.end() ? std::string_view()
                              : std::string_view(found->second.data(), found->second.size());
  return api_keys_->Check(authorization, role);
}

grpc::Status CallGate::Finish(const char* method, std::chrono::steady_clock::time_point start,
                              const grpc::ServerContextBase& context, Role role,
                              const std::function<absl::Status()>& call) const {
  absl::Status status = Authorize(context, role);
  if (status.ok()) status = call();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_->RecordRequest(method, absl::StatusCodeToString(status.code()), seconds);
  return ToGrpc(status);
}

}  // namespace adanns::server
