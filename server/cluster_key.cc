#include "server/cluster_key.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace adanns::server {
namespace {

class KeySender final : public grpc::experimental::Interceptor {
 public:
  explicit KeySender(const std::string* key) : key_(key) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kClusterKeyHeader, *key_);
    }
    methods->Proceed();
  }

 private:
  const std::string* key_;  // owned by the factory, which outlives the channel's calls
};

class KeySenderFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit KeySenderFactory(std::string key) : key_(std::move(key)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new KeySender(&key_);
  }

 private:
  const std::string key_;
};

// Equal length and bytes, in time that does not depend on where they differ.
bool SameSecret(grpc::string_ref given, const std::string& key) {
  if (given.size() != key.size()) return false;
  unsigned char differ = 0;
  for (size_t i = 0; i < key.size(); ++i) {
    differ |= static_cast<unsigned char>(given.data()[i]) ^ static_cast<unsigned char>(key[i]);
  }
  return differ == 0;
}

}  // namespace

absl::StatusOr<std::string> ReadClusterKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read the cluster key ", path));
  std::ostringstream text;
  text << in.rdbuf();
  const std::string key(absl::StripAsciiWhitespace(text.str()));
  // A plain (non "-bin") gRPC header carries printable ASCII only: gRPC refuses anything else
  // at the first call, so refuse it here, at start-up (e.g. `openssl rand -hex 32` is fine).
  for (size_t i = 0; i < key.size(); ++i) {
    const auto byte = static_cast<unsigned char>(key[i]);
    if (byte < 0x20 || byte > 0x7E) {
      return absl::InvalidArgumentError(
          absl::StrCat("the cluster key in ", path, " has a byte outside printable ASCII at ", i,
                       " (use printable characters, e.g. openssl rand -hex 32)"));
    }
  }
  if (key.size() < kMinClusterKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the cluster key in ", path, " has ", key.size(),
                                                   " bytes; at least ", kMinClusterKeyBytes,
                                                   " are needed"));
  }
  return key;
}

grpc::Status CheckClusterKey(const grpc::ServerContext& context, const std::string& key) {
  if (key.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find(kClusterKeyHeader);
  if (found != metadata.end() && SameSecret(found->second, key)) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      found == metadata.end()
                          ? "this data node's shard service needs the cluster key (the router's "
                            "--cluster_key_file)"
                          : "wrong cluster key (the router's --cluster_key_file differs from this "
                            "data node's)");
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> ClusterKeySender(
    std::string key) {
  return std::make_unique<KeySenderFactory>(std::move(key));
}

}  // namespace adanns::server
