#include "server/upsert_stream.h"

#include "absl/strings/str_cat.h"
#include "adanns/v1/adanns.grpc.pb.h"  // SerializationTraits for protobuf messages

namespace adanns::server {

UpsertStream::UpsertStream(const absl::Status& admitted, WorkerPool* pool, MessageHandler handle,
                           DoneHandler done, grpc::ByteBuffer* response)
    : pool_(pool), handle_(std::move(handle)), done_(std::move(done)), response_(response) {
  if (!admitted.ok()) {
    End(admitted);
    return;
  }
  StartRead(&request_);
}

void UpsertStream::OnReadDone(bool ok) {
  if (!ok) {  // the client closed its side (or the call ended): every message is committed
    End(absl::OkStatus());
    return;
  }
  pool_->Post([this] { HandleMessage(); });
}

void UpsertStream::HandleMessage() {
  const size_t bytes = request_.Length();
  v1::UpsertRequest message;
  const grpc::Status parsed =
      grpc::SerializationTraits<v1::UpsertRequest>::Deserialize(&request_, &message);
  absl::Status status =
      parsed.ok() ? handle_(message, progress_)
                  : absl::InvalidArgumentError(absl::StrCat(
                        "it is not a valid adanns.v1.UpsertRequest (", bytes,
                        " bytes of truncated or corrupt protobuf, or a string that is not UTF-8)"));
  if (!status.ok()) {
    End(absl::Status(status.code(),
                     absl::StrCat("message ", progress_.messages, " of the stream rejected: ",
                                  status.message(), " (", progress_.committed, " vectors from ",
                                  progress_.messages, " earlier messages were committed)")));
    return;
  }
  StartRead(&request_);
}

void UpsertStream::End(const absl::Status& status) {
  done_(status, progress_);
  if (!status.ok()) {
    Finish(
        grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message())));
    return;
  }
  v1::UpsertResponse response;
  response.set_upserted(progress_.committed);
  bool own_buffer = false;
  const grpc::Status serialized =
      grpc::SerializationTraits<v1::UpsertResponse>::Serialize(response, response_, &own_buffer);
  Finish(serialized);
}

}  // namespace adanns::server
