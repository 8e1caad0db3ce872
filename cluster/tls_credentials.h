// TLS for the connections a cluster process opens (a router to its data nodes, every node to
// etcd): channel credentials built from PEM files named by flags.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"

namespace adanns::cluster {

// PEM files of a TLS client. All empty: plaintext.
struct TlsClientFiles {
  // CA certificates the server's certificate must chain to; set = dial over TLS.
  std::string ca;
  // Certificate chain and private key shown to servers that require mutual TLS; both or neither.
  std::string cert;
  std::string key;
  bool any() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

// Null (plaintext) when no file is named, else TLS credentials from the files, read now.
// INVALID_ARGUMENT naming the flags (`flag_prefix` + "ca", "cert", "key") when the certificate
// and key are not given together or come without a CA; NOT_FOUND naming an unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsClientCredentials(
    const TlsClientFiles& files, absl::string_view flag_prefix);

}  // namespace adanns::cluster
