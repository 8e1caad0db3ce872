#include "server/upsert_stream.h"

#include <utility>

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
  {
    std::lock_guard lock(mutex_);
    if (handling_) {  // the handling task takes it when its message is committed
      finished_read_ = ok;
      return;
    }
    handling_ = true;
  }
  pool_->Post([this, ok] { HandleReads(ok); });
}

void UpsertStream::HandleReads(bool ok) {
  for (;;) {
    if (!ok) {  // the client closed its side (or the call ended): every message is committed
      End(absl::OkStatus());
      return;
    }
    if (!HandleMessage()) return;
    std::lock_guard lock(mutex_);
    if (!finished_read_.has_value()) {
      handling_ = false;
      return;
    }
    ok = *std::exchange(finished_read_, std::nullopt);
  }
}

bool UpsertStream::HandleMessage() {
  const size_t bytes = request_.Length();
  v1::UpsertRequest message;
  const grpc::Status parsed =
      grpc::SerializationTraits<v1::UpsertRequest>::Deserialize(&request_, &message);
  if (parsed.ok()) StartRead(&request_);  // the next message arrives while this one commits
  absl::Status status =
      parsed.ok() ? handle_(message, progress_)
                  : absl::InvalidArgumentError(absl::StrCat(
                        "it is not a valid adanns.v1.UpsertRequest (", bytes,
                        " bytes of truncated or corrupt protobuf, or a string that is not UTF-8)"));
  if (!status.ok()) {
    // A read may be outstanding: it ends when the call does, and handling_ stays set.
    End(absl::Status(status.code(),
                     absl::StrCat("message ", progress_.messages, " of the stream rejected: ",
                                  status.message(), " (", progress_.committed, " vectors from ",
                                  progress_.messages, " earlier messages were committed)")));
    return false;
  }
  return true;
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
