#include "cluster/tls_credentials.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/text_file.h"

namespace adanns::cluster {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsClientCredentials(
    const TlsClientFiles& files, absl::string_view flag_prefix) {
  if (!files.any()) return std::shared_ptr<grpc::ChannelCredentials>();
  const std::string ca_flag = absl::StrCat(flag_prefix, "ca");
  const std::string cert_flag = absl::StrCat(flag_prefix, "cert");
  const std::string key_flag = absl::StrCat(flag_prefix, "key");
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, " and ", key_flag, " go together (a certificate and its key)"));
  }
  // Without a CA of its own the client would trust the system's public CAs, which is not what
  // a cluster's private certificates are signed by.
  if (files.ca.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, " and ", key_flag, " need ", ca_flag,
                     " (the CA that signs the servers' certificates)"));
  }
  grpc::SslCredentialsOptions ssl;
  ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadTextFile(files.ca, ca_flag));
  if (!files.cert.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadTextFile(files.cert, cert_flag));
    ASSIGN_OR_RETURN(ssl.pem_private_key, ReadTextFile(files.key, key_flag));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace adanns::cluster
