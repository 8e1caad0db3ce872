#include "cluster/etcd_client.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"

namespace adanns::cluster {
std::string EtcdPrefixRangeEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

EtcdKeyValue EtcdKeyValueFromProto(const mvccpb::KeyValue& kv) {
  return EtcdKeyValue{.key = kv.key(),
                      .value = kv.value(),
                      .create_revision = kv.create_revision(),
                      .mod_revision = kv.mod_revision(),
                      .lease = kv.lease()};
}

namespace {

// gRPC and Abseil share their status codes.
absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

bool MemberUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(absl::string_view flag) {
  std::vector<std::string> endpoints;
  for (absl::string_view entry : absl::StrSplit(flag, ',')) {
    const size_t colon = entry.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(entry.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--etcd: '", entry, "' is not HOST:PORT (list: HOST:PORT[,HOST:PORT...])"));
    }
    endpoints.emplace_back(entry);
  }
  return endpoints;
}

struct EtcdClient::Member {
  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd: no endpoints");
  for (const std::string& endpoint : options.endpoints) {
    RETURN_IF_ERROR(ParseEtcdEndpoints(endpoint).status());
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("etcd: call_timeout must be positive");
  }
  if (options.credentials == nullptr) options.credentials = grpc::InsecureChannelCredentials();
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options)));
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {
  for (const std::string& endpoint : options_.endpoints) {
    auto member = std::make_unique<Member>();
    member->endpoint = endpoint;
    // Pings every 10 s (etcd accepts one per 5 s) so a watch on a member that vanished without
    // closing its connection fails within 15 s instead of waiting forever.
    // Reconnects at least every 2 s (gRPC's default backoff grows to 2 minutes), so a member
    // that restarts is used again within a lease's lifetime.
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
    member->channel = grpc::CreateCustomChannel(endpoint, options_.credentials, arguments);
    member->kv = etcdserverpb::KV::NewStub(member->channel);
    member->lease = etcdserverpb::Lease::NewStub(member->channel);
    member->watch = etcdserverpb::Watch::NewStub(member->channel);
    members_.push_back(std::move(member));
  }
}

EtcdClient::~EtcdClient() = default;

template <typename Call>
absl::Status EtcdClient::OnAnyMember(absl::string_view what, Call&& call) {
  size_t first;
  {
    absl::MutexLock lock(&mutex_);
    first = preferred_;
  }
  absl::Status last;
  for (size_t attempt = 0; attempt < members_.size(); ++attempt) {
    const size_t index = (first + attempt) % members_.size();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    last = FromGrpc(call(*members_[index], &context));
    if (!MemberUnreachable(last)) {
      if (index != first) {
        absl::MutexLock lock(&mutex_);
        preferred_ = index;
      }
      if (last.ok()) return last;
      return absl::Status(last.code(), absl::StrCat("etcd ", what, ": ", last.message()));
    }
  }
  return absl::UnavailableError(absl::StrCat("etcd ", what, ": no member of [",
                                             absl::StrJoin(options_.endpoints, ","),
                                             "] answered (last: ", last.message(), ")"));
}

absl::StatusOr<std::optional<EtcdKeyValue>> EtcdClient::Get(absl::string_view key) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(key));
  etcdserverpb::RangeResponse response;
  RETURN_IF_ERROR(OnAnyMember("get", [&](Member& member, grpc::ClientContext* context) {
    return member.kv->Range(context, request, &response);
  }));
  if (response.kvs_size() == 0) return std::nullopt;
  return EtcdKeyValueFromProto(response.kvs(0));
}

absl::StatusOr<EtcdRange> EtcdClient::GetPrefix(absl::string_view prefix) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(prefix));
  request.set_range_end(EtcdPrefixRangeEnd(prefix));
  etcdserverpb::RangeResponse response;
  RETURN_IF_ERROR(OnAnyMember("range", [&](Member& member, grpc::ClientContext* context) {
    return member.kv->Range(context, request, &response);
  }));
  EtcdRange range;
  range.revision = response.header().revision();
  for (const mvccpb::KeyValue& kv : response.kvs()) range.kvs.push_back(EtcdKeyValueFromProto(kv));
  return range;
}

absl::StatusOr<int64_t> EtcdClient::Put(absl::string_view key, absl::string_view value,
                                        int64_t lease) {
  etcdserverpb::PutRequest request;
  request.set_key(std::string(key));
  request.set_value(std::string(value));
  request.set_lease(lease);
  etcdserverpb::PutResponse response;
  RETURN_IF_ERROR(OnAnyMember("put", [&](Member& member, grpc::ClientContext* context) {
    return member.kv->Put(context, request, &response);
  }));
  return response.header().revision();
}

absl::StatusOr<bool> EtcdClient::CompareAndPut(absl::string_view key, absl::string_view value,
                                               int64_t expected_mod_revision, int64_t lease) {
  etcdserverpb::TxnRequest request;
  AddGuardedPut(key, value, expected_mod_revision, lease, &request);
  return CommitTxn(request);
}

absl::StatusOr<bool> EtcdClient::CompareAndPutAll(const std::vector<GuardedPut>& puts) {
  etcdserverpb::TxnRequest request;
  for (const GuardedPut& put : puts) {
    AddGuardedPut(put.key, put.value, put.expected_mod_revision, 0, &request);
  }
  return CommitTxn(request);
}

void EtcdClient::AddGuardedPut(absl::string_view key, absl::string_view value,
                               int64_t expected_mod_revision, int64_t lease,
                               etcdserverpb::TxnRequest* request) {
  etcdserverpb::Compare* compare = request->add_compare();
  compare->set_key(std::string(key));
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_target(etcdserverpb::Compare::MOD);
  compare->set_mod_revision(expected_mod_revision);  // an absent key has mod_revision 0
  etcdserverpb::PutRequest* put = request->add_success()->mutable_request_put();
  put->set_key(std::string(key));
  put->set_value(std::string(value));
  put->set_lease(lease);
}

absl::StatusOr<bool> EtcdClient::CommitTxn(const etcdserverpb::TxnRequest& request) {
  etcdserverpb::TxnResponse response;
  RETURN_IF_ERROR(OnAnyMember("txn", [&](Member& member, grpc::ClientContext* context) {
    return member.kv->Txn(context, request, &response);
  }));
  return response.succeeded();
}

absl::StatusOr<int64_t> EtcdClient::Delete(absl::string_view key) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(std::string(key));
  etcdserverpb::DeleteRangeResponse response;
  RETURN_IF_ERROR(OnAnyMember("delete", [&](Member& member, grpc::ClientContext* context) {
    return member.kv->DeleteRange(context, request, &response);
  }));
  return response.deleted();
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(absl::Duration ttl) {
  const int64_t seconds = absl::ToInt64Seconds(ttl);
  if (seconds < 1) return absl::InvalidArgumentError("etcd lease: ttl below 1 s");
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(seconds);
  etcdserverpb::LeaseGrantResponse response;
  RETURN_IF_ERROR(OnAnyMember("lease grant", [&](Member& member, grpc::ClientContext* context) {
    return member.lease->LeaseGrant(context, request, &response);
  }));
  if (!response.error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd lease grant: ", response.error()));
  }
  return response.id();
}

absl::StatusOr<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse response;
  bool answered = false;
  RETURN_IF_ERROR(
      OnAnyMember("lease keep-alive", [&](Member& member, grpc::ClientContext* context) {
        // etcd renews leases only over its bidirectional stream: one request, one answer.
        auto stream = member.lease->LeaseKeepAlive(context);
        answered = stream->Write(request) && stream->Read(&response);
        stream->WritesDone();
        if (answered) context->TryCancel();
        grpc::Status status = stream->Finish();
        return answered ? grpc::Status::OK : status;
      }));
  if (!answered) return absl::UnavailableError("etcd lease keep-alive: stream closed");
  if (response.ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd lease ", lease, " expired"));
  }
  return response.ttl();
}

absl::Status EtcdClient::RevokeLease(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseRevokeResponse response;
  return OnAnyMember("lease revoke", [&](Member& member, grpc::ClientContext* context) {
    return member.lease->LeaseRevoke(context, request, &response);
  });
}

etcdserverpb::Watch::StubInterface* EtcdClient::WatchStub() {
  absl::MutexLock lock(&mutex_);
  return members_[preferred_]->watch.get();
}

}  // namespace adanns::cluster
