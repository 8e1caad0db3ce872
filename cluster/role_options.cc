#include "cluster/role_options.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cluster/etcd_client.h"
#include "cluster/shard_map.h"

namespace adanns::cluster {
namespace {

// etcd's smallest lease is about 1.5 s with its default election timeout; past 5 minutes a dead
// node would keep its shards unreachable without anyone noticing.
constexpr int kMinLeaseSeconds = 2;
constexpr int kMaxLeaseSeconds = 300;

// The host part of HOST:PORT ("[::1]:80" -> "[::1]"); nullopt-like empty port on a bad address.
bool SplitHostPort(absl::string_view address, absl::string_view* host, uint32_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;
  *host = address.substr(0, colon);
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port <= 65535;
}

bool WildcardHost(absl::string_view host) {
  return host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::" || host == "*";
}

}  // namespace

absl::StatusOr<RoleOptions> ParseRoleFlags(const RoleFlags& flags) {
  RoleOptions options;
  if (flags.role == "data") {
    options.data = true;
  } else if (flags.role == "router") {
    options.router = true;
  } else if (flags.role == "data,router" || flags.role == "router,data") {
    options.data = options.router = true;
  } else if (flags.role != "standalone") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--role: '", flags.role, "' is not one of standalone, data, router, data,router"));
  }
  if (options.standalone()) {
    if (!flags.etcd.empty() || flags.etcd_tls.any()) {
      return absl::InvalidArgumentError(
          "--etcd is for --role=data or router, as are --etcd_ca, --etcd_cert and --etcd_key; a "
          "standalone server keeps no cluster state");
    }
  }
  if (options.standalone() && flags.shard_tls.any()) {
    return absl::InvalidArgumentError(
        "--shard_tls_ca, --shard_tls_cert and --shard_tls_key are for --role=router or data (how "
        "routers, and followers of replicated shards, dial data nodes)");
  }
  if (options.standalone()) return options;
  if (flags.etcd.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--role=", flags.role, " needs --etcd=HOST:PORT[,HOST:PORT...]"));
  }
  ASSIGN_OR_RETURN(options.etcd_endpoints, ParseEtcdEndpoints(flags.etcd));
  ASSIGN_OR_RETURN(options.etcd_credentials, TlsClientCredentials(flags.etcd_tls, "--etcd_"));
  ASSIGN_OR_RETURN(options.shard_credentials,
                   TlsClientCredentials(flags.shard_tls, "--shard_tls_"));
  RETURN_IF_ERROR(ClusterKeys::Create(flags.cluster).status());
  options.cluster = flags.cluster;
  if (flags.lease_seconds < kMinLeaseSeconds || flags.lease_seconds > kMaxLeaseSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lease_seconds must be in ", kMinLeaseSeconds, "..", kMaxLeaseSeconds));
  }
  options.lease_ttl = absl::Seconds(flags.lease_seconds);
  if (!flags.advertise.empty()) {
    absl::string_view host;
    uint32_t port = 0;
    if (!SplitHostPort(flags.advertise, &host, &port) || port == 0 || WildcardHost(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--advertise: '", flags.advertise, "' is not a HOST:PORT others can dial"));
    }
  }
  options.advertise = flags.advertise;
  if (flags.node_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("--node_id may not contain '/'");
  }
  options.node_id = flags.node_id;
  return options;
}

EtcdOptions RoleOptions::EtcdClientOptions() const {
  EtcdOptions etcd;
  etcd.endpoints = etcd_endpoints;
  etcd.credentials = etcd_credentials;
  return etcd;
}

absl::Status ResolveAdvertise(absl::string_view listen, int bound_port, RoleOptions* options) {
  if (options->advertise.empty()) {
    absl::string_view host;
    uint32_t port = 0;
    if (!SplitHostPort(listen, &host, &port)) {
      return absl::InvalidArgumentError(absl::StrCat("--listen: '", listen, "' is not HOST:PORT"));
    }
    if (WildcardHost(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen=", listen, " is a wildcard address others cannot dial: set --advertise"));
    }
    options->advertise = absl::StrCat(host, ":", bound_port);
  }
  if (options->node_id.empty()) options->node_id = options->advertise;
  return absl::OkStatus();
}

absl::Status CheckInternalServiceExposure(absl::string_view listen, bool mutual_tls,
                                          bool cluster_key) {
  absl::string_view host;
  uint32_t port = 0;
  const bool loopback = SplitHostPort(listen, &host, &port) &&
                        (host == "127.0.0.1" || host == "localhost" || host == "[::1]");
  if (loopback || mutual_tls || cluster_key) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--listen=", listen,
                   ": a data node's internal shard service on a non-loopback address "
                   "needs mutual TLS (--tls_cert, --tls_key and --tls_client_ca) or a cluster "
                   "key (--cluster_key_file)"));
}

}  // namespace adanns::cluster
