#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::client {
namespace {

// Upper bounds of the protobuf encoding: a Vector is an id (tag + 10-byte varint) and packed
// values (tag + 5-byte length + 4 bytes per float), wrapped as a repeated field (tag + 5-byte
// length); the collection name is a tag + 5-byte length + its bytes.
constexpr size_t kVectorOverheadBytes = (1 + 10) + (1 + 5) + (1 + 5);
constexpr size_t kCollectionOverheadBytes = 1 + 5;

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read the ", what, " file ", path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// One Upsert stream: fills a reused request with rows and writes it. The request's Vector objects
// are cleared, not freed, between messages, so their buffers are reused.
class Client::UpsertStream {
 public:
  // `prepare` readies the context (the API key) before the stream opens.
  UpsertStream(v1::Adanns::StubInterface& stub, const std::string& collection,
               const std::function<void(grpc::ClientContext&)>& prepare)
      : writer_((prepare(context_), stub.Upsert(&context_, &response_))) {
    request_.set_collection(collection);
  }

  // False when the stream is broken; Finish() then returns the server's error.
  bool Send(uint64_t first_id, const float* rows, size_t count, uint32_t dim) {
    auto* vectors = request_.mutable_vectors();
    vectors->Clear();
    vectors->Reserve(static_cast<int>(count));
    for (size_t i = 0; i < count; ++i) {
      v1::Vector* vector = vectors->Add();
      vector->set_id(first_id + i);
      const float* row = rows + i * dim;
      vector->mutable_values()->Add(row, row + dim);
    }
    sent_ += count;
    return writer_->Write(request_);
  }

  bool SendMessage(const v1::UpsertRequest& request) { return writer_->Write(request); }

  // Half-closes the stream and waits for the server's verdict.
  absl::StatusOr<uint64_t> Finish() {
    writer_->WritesDone();
    const grpc::Status status = writer_->Finish();
    if (!status.ok()) {
      return FromGrpcStatus(status);
    }
    return response_.upserted();
  }

  uint64_t sent() const { return sent_; }

 private:
  grpc::ClientContext context_;
  v1::UpsertResponse response_;
  v1::UpsertRequest request_;
  std::unique_ptr<grpc::ClientWriterInterface<v1::UpsertRequest>> writer_;
  uint64_t sent_ = 0;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& target,
                                                        const ClientOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
  arguments.SetMaxSendMessageSize(options.max_message_bytes);
  // Reconnect about as often as the retries try, so a restarted server is found within a retry's
  // wait instead of gRPC's default 1 s..120 s reconnect backoff; a channel of its own (local
  // subchannel pool) so no other channel's backoff state is shared.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                   static_cast<int>(std::max<int64_t>(options.retry.initial_backoff.count(), 1)));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                   static_cast<int>(std::max<int64_t>(options.retry.max_backoff.count(), 1)));
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options.tls_ca_file, "TLS CA"));
    if (!options.tls_cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadFile(options.tls_cert_file, "TLS certificate"));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadFile(options.tls_key_file, "TLS key"));
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      arguments.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, credentials, arguments);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout)) {
    return absl::UnavailableError(absl::StrCat(
        "no adanns server answered at ", target, " within ", options.connect_timeout.count(),
        " ms (is it running? the address comes from --server or ADANNS_SERVER)"));
  }
  return std::make_unique<Client>(v1::Adanns::NewStub(channel), options, channel);
}

Client::Client(std::unique_ptr<v1::Adanns::StubInterface> stub, const ClientOptions& options,
               std::shared_ptr<grpc::Channel> channel)
    : stub_(std::move(stub)), options_(options), channel_(std::move(channel)) {}

void Client::PrepareContext(grpc::ClientContext& context,
                            std::optional<std::chrono::system_clock::time_point> deadline) const {
  if (deadline.has_value()) {
    context.set_deadline(*deadline);
  }
  if (!options_.api_key.empty()) context.AddMetadata("authorization", "Bearer " + options_.api_key);
}

absl::Status Client::Run(Idempotent idempotent,
                         std::optional<std::chrono::system_clock::time_point> deadline,
                         const std::function<absl::Status()>& attempt) const {
  if (idempotent == Idempotent::kNo) {
    return attempt();
  }
  // A failed fail-fast call leaves nothing polling the channel: its reconnection would only be
  // noticed by gRPC's 5 s backup poller. Watching the channel during the wait drives it; the wait
  // still lasts its whole length, so a server answering UNAVAILABLE is not retried in a loop.
  BackoffWait wait_on_channel;
  if (channel_ != nullptr) {
    wait_on_channel = [channel = channel_](std::chrono::milliseconds wait) {
      const auto end = std::chrono::system_clock::now() + wait;
      channel->WaitForConnected(end);
      std::this_thread::sleep_until(end);
    };
  }
  return RunWithRetries(options_.retry, deadline, attempt, options_.on_retry, wait_on_channel);
}

template <typename Request, typename Response>
absl::StatusOr<Response> Client::CallUnary(UnaryMethod<Request, Response> method,
                                           const Request& request, Idempotent idempotent) {
  std::optional<std::chrono::system_clock::time_point> deadline;
  if (options_.call_timeout.count() > 0) {
    deadline = std::chrono::system_clock::now() + options_.call_timeout;
  }
  Response response;
  RETURN_IF_ERROR(Run(idempotent, deadline, [&]() {
    grpc::ClientContext context;  // a fresh one per attempt
    PrepareContext(context, deadline);
    response.Clear();
    return FromGrpcStatus((stub_.get()->*method)(&context, request, &response));
  }));
  return response;
}

absl::StatusOr<v1::CollectionInfo> Client::CreateCollection(
    const v1::CreateCollectionRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::CreateCollection, request, Idempotent::kNo);
}

absl::StatusOr<v1::CollectionInfo> Client::DescribeCollection(
    const v1::DescribeCollectionRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::DescribeCollection, request, Idempotent::kYes);
}

absl::StatusOr<v1::ListCollectionsResponse> Client::ListCollections(
    const v1::ListCollectionsRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::ListCollections, request, Idempotent::kYes);
}

absl::StatusOr<v1::DropCollectionResponse> Client::DropCollection(
    const v1::DropCollectionRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::DropCollection, request, Idempotent::kNo);
}

absl::StatusOr<v1::BuildIndexResponse> Client::BuildIndex(const v1::BuildIndexRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::BuildIndex, request, Idempotent::kNo);
}

absl::StatusOr<v1::DropIndexResponse> Client::DropIndex(const v1::DropIndexRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::DropIndex, request, Idempotent::kNo);
}

absl::StatusOr<v1::CollectionInfo> Client::UpdateCollection(
    const v1::UpdateCollectionRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::UpdateCollection, request, Idempotent::kYes);
}

absl::StatusOr<v1::SnapshotInfo> Client::CreateSnapshot(const v1::CreateSnapshotRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::CreateSnapshot, request, Idempotent::kNo);
}

absl::StatusOr<v1::ListSnapshotsResponse> Client::ListSnapshots() {
  return CallUnary(&v1::Adanns::StubInterface::ListSnapshots, v1::ListSnapshotsRequest(),
                   Idempotent::kYes);
}

absl::StatusOr<v1::MoveShardResponse> Client::MoveShard(const v1::MoveShardRequest& request) {
  // A move resumes where it stands when called again with the same arguments.
  return CallUnary(&v1::Adanns::StubInterface::MoveShard, request, Idempotent::kYes);
}

absl::StatusOr<v1::CalibrationInfo> Client::Calibrate(const v1::CalibrateRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::Calibrate, request, Idempotent::kNo);
}

absl::StatusOr<v1::GetResponse> Client::Get(const v1::GetRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::Get, request, Idempotent::kYes);
}

absl::StatusOr<v1::DeleteResponse> Client::Delete(const v1::DeleteRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::Delete, request, Idempotent::kYes);
}

absl::StatusOr<v1::SearchResponse> Client::Search(const v1::SearchRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::Search, request, Idempotent::kYes);
}

absl::StatusOr<v1::SearchBatchResponse> Client::SearchBatch(const v1::SearchBatchRequest& request) {
  return CallUnary(&v1::Adanns::StubInterface::SearchBatch, request, Idempotent::kYes);
}

absl::StatusOr<v1::UpsertResponse> Client::Upsert(const std::vector<v1::UpsertRequest>& messages) {
  v1::UpsertResponse response;
  RETURN_IF_ERROR(Run(Idempotent::kYes, std::nullopt, [&]() -> absl::Status {
    UpsertStream stream(*stub_, "",
                        [this](grpc::ClientContext& c) { PrepareContext(c, std::nullopt); });
    for (const v1::UpsertRequest& message : messages) {
      if (!stream.SendMessage(message)) {
        break;
      }
    }
    ASSIGN_OR_RETURN(uint64_t upserted, stream.Finish());
    response.set_upserted(upserted);
    return absl::OkStatus();
  }));
  return response;
}

absl::StatusOr<size_t> Client::VectorsPerUpsertMessage(const std::string& collection,
                                                       uint32_t dim) const {
  const size_t header_bytes = kCollectionOverheadBytes + collection.size();
  const size_t vector_bytes = kVectorOverheadBytes + size_t{dim} * sizeof(float);
  const size_t hard_limit = static_cast<size_t>(std::max(options_.max_message_bytes, 0));
  if (header_bytes + vector_bytes > hard_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "one vector of dim ", dim, " needs up to ", header_bytes + vector_bytes,
        " bytes per Upsert message, more than the ", hard_limit, "-byte message limit"));
  }
  const size_t budget = std::min(options_.upsert_message_bytes, hard_limit);
  const size_t fitting = budget > header_bytes ? (budget - header_bytes) / vector_bytes : 0;
  return std::clamp<size_t>(fitting, 1, kMaxVectorsPerMessage);
}

absl::StatusOr<uint64_t> Client::UpsertRows(const std::string& collection, uint64_t first_id,
                                            const float* rows, uint64_t count, uint32_t dim,
                                            const UpsertProgress& progress) {
  ASSIGN_OR_RETURN(const size_t per_message, VectorsPerUpsertMessage(collection, dim));
  uint64_t committed = 0;
  RETURN_IF_ERROR(Run(Idempotent::kYes, std::nullopt, [&]() -> absl::Status {
    UpsertStream stream(*stub_, collection,
                        [this](grpc::ClientContext& c) { PrepareContext(c, std::nullopt); });
    for (uint64_t start = 0; start < count; start += per_message) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(per_message, count - start));
      if (!stream.Send(first_id + start, rows + start * dim, n, dim)) {
        break;
      }
      if (progress) {
        progress(start + n, count);
      }
    }
    ASSIGN_OR_RETURN(committed, stream.Finish());
    return absl::OkStatus();
  }));
  return committed;
}

absl::StatusOr<uint64_t> Client::UpsertFromReader(const std::string& collection,
                                                  readers::VectorReader& reader, uint64_t id_offset,
                                                  const UpsertProgress& progress) {
  const uint32_t dim = reader.dim();
  ASSIGN_OR_RETURN(const size_t per_message, VectorsPerUpsertMessage(collection, dim));
  std::vector<float> buffer(per_message * dim);
  UpsertStream stream(*stub_, collection,
                      [this](grpc::ClientContext& c) { PrepareContext(c, std::nullopt); });
  const uint64_t total = reader.rows();
  while (true) {
    const uint64_t first_row = reader.rows_read();
    absl::StatusOr<size_t> read = reader.Read(per_message, buffer.data());
    if (!read.ok()) {
      // Commit what was sent, so the error can say exactly how far the ingest got.
      const absl::StatusOr<uint64_t> committed = stream.Finish();
      const std::string outcome =
          committed.ok() ? absl::StrCat(*committed, " vectors before it were committed")
                         : absl::StrCat("the stream ended with ", committed.status().ToString());
      return absl::Status(read.status().code(),
                          absl::StrCat(read.status().message(), " (", outcome, ")"));
    }
    if (*read == 0) {
      break;
    }
    if (!stream.Send(id_offset + first_row, buffer.data(), *read, dim)) {
      break;
    }
    if (progress) {
      progress(reader.rows_read(), total);
    }
  }
  return stream.Finish();
}

}  // namespace adanns::client
