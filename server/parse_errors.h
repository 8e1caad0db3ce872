// A server interceptor that answers INVALID_ARGUMENT, with a message, for a unary request whose
// bytes do not parse as its message (truncated or corrupt protobuf, a string that is not UTF-8).
// gRPC itself answers those with INTERNAL and an empty message, as if the server were at fault.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/server_interceptor.h"

namespace adanns::server {

class ParseErrorInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(const grpc::experimental::ServerRpcInfo& info)
      : method_(info.method()),
        unary_(info.type() == grpc::experimental::ServerRpcInfo::Type::UNARY) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    // A unary call's request arrives before its handler runs; null means it did not parse.
    if (unary_ && methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsable_ = true;
    }
    if (unparsable_ && methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("the request is not a valid ", method_,
                       " message (truncated or corrupt protobuf bytes, or a string that is "
                       "not UTF-8)")));
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  bool unary_;
  bool unparsable_ = false;
};

class ParseErrorInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // gRPC takes ownership of the interceptor.
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ParseErrorInterceptor(*info);
  }
};

}  // namespace adanns::server
