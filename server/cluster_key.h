// The cluster key: a shared secret (--cluster_key_file) that a data node's ShardService requires
// on every call and that routers send, so that the internal service is closed to anyone without
// it even on a non-loopback address without mutual TLS. Sent as gRPC metadata: over plaintext it
// is readable on the wire, so it guards against stray and misconfigured clients on a trusted
// network (a pod network, say); mutual TLS (--tls_*) guards against eavesdroppers too.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_interceptor.h"

namespace adanns::server {

inline constexpr char kClusterKeyHeader[] = "x-adanns-cluster-key";
inline constexpr size_t kMinClusterKeyBytes = 16;

// The key in `path`, surrounding whitespace removed; INVALID_ARGUMENT when unreadable, shorter
// than kMinClusterKeyBytes, or holding bytes outside printable ASCII (a gRPC header's alphabet).
absl::StatusOr<std::string> ReadClusterKey(const std::string& path);

// OK when `key` is empty (no key configured) or the call carries it (compared in constant time);
// else UNAUTHENTICATED.
grpc::Status CheckClusterKey(const grpc::ServerContext& context, const std::string& key);

// Adds the key to the initial metadata of every call on a channel built with it.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> ClusterKeySender(
    std::string key);

}  // namespace adanns::server
