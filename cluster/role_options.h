// What --role and the cluster flags ask of this process, validated; the advertised address and the
// node id are settled once the listening port is known.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cluster/etcd_client.h"
#include "cluster/tls_credentials.h"
#include "grpcpp/grpcpp.h"

namespace adanns::cluster {

// The flags as given (main() reads them; everything here is testable without flags).
struct RoleFlags {
  std::string role = "standalone";
  std::string etcd;
  std::string cluster = "adanns";
  std::string node_id;
  std::string advertise;
  int lease_seconds = 5;
  // --etcd_ca, --etcd_cert, --etcd_key: TLS to etcd (data and router).
  TlsClientFiles etcd_tls;
  // --shard_tls_ca, --shard_tls_cert, --shard_tls_key: TLS to the data nodes (routers, and data
  // nodes whose followers dial primaries).
  TlsClientFiles shard_tls;
};

struct RoleOptions {
  // Hosts shards and registers in etcd.
  bool data = false;
  // Serves the public API by routing to the data nodes.
  bool router = false;
  bool standalone() const { return !data && !router; }
  std::vector<std::string> etcd_endpoints;
  std::string cluster;
  // Empty until ResolveAdvertise when the flags left them to their defaults.
  std::string node_id;
  std::string advertise;
  absl::Duration lease_ttl;
  // TLS to etcd and (router) to the data nodes, built from the flags' files; null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> etcd_credentials;
  std::shared_ptr<grpc::ChannelCredentials> shard_credentials;
  // The endpoints with etcd_credentials.
  EtcdOptions EtcdClientOptions() const;
};

// INVALID_ARGUMENT naming the flag: an unknown role, --etcd missing for data/router, --etcd or
// --etcd_ca/_cert/_key given for standalone, --shard_tls_* for standalone, a bad
// --etcd list or --cluster name, --lease_seconds outside 2..300, a bad --advertise, a TLS
// certificate without its key or CA. NOT_FOUND naming an unreadable TLS file (read here, so a
// typo stops the process at start-up rather than at its first connection).
absl::StatusOr<RoleOptions> ParseRoleFlags(const RoleFlags& flags);

// Once the server is bound: --advertise defaults to the listen host with the port actually
// bound (INVALID_ARGUMENT asking for --advertise when that host is a wildcard such as 0.0.0.0,
// which others cannot dial), and --node_id to the advertised HOST:PORT.
absl::Status ResolveAdvertise(absl::string_view listen, int bound_port, RoleOptions* options);

// A data node's internal ShardService is open to whoever reaches it unless guarded: on an address
// other than loopback it needs mutual TLS or a cluster key (INVALID_ARGUMENT otherwise), so
// nothing internal is open by default.
absl::Status CheckInternalServiceExposure(absl::string_view listen, bool mutual_tls,
                                          bool cluster_key);

}  // namespace adanns::cluster
