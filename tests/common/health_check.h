// grpc.health.v1.Health/Check over a generic stub (the health proto's stubs are not generated
// here): the raw HealthCheckResponse bytes, "\x08\x01" for SERVING, "\x08\x02" for NOT_SERVING.
#pragma once

#include <future>
#include <string>
#include <vector>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace adanns::testing {

inline constexpr char kHealthServing[] = "\x08\x01";
inline constexpr char kHealthNotServing[] = "\x08\x02";

// The status of `service` ("": the whole server) on `target`, asked without credentials; "" when
// the call fails (NOT_FOUND for a service the server does not report).
inline std::string HealthCheck(const std::string& target, const std::string& service = "") {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  std::string encoded;  // HealthCheckRequest{service}: field 1, length-delimited
  if (!service.empty()) {
    encoded.push_back('\x0a');
    encoded.push_back(static_cast<char>(service.size()));  // names under 128 bytes
    encoded += service;
  }
  grpc::Slice slice(encoded);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status status) { done.set_value(status); });
  if (!done.get_future().get().ok()) return "";
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return "";
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return bytes;
}

}  // namespace adanns::testing
