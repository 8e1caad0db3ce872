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
    ++tasks_;
  }
  pool_->Post([this, ok] {
    OnRead(ok);
    TaskDone();
  });
}

void UpsertStream::OnDone() {
  {
    std::lock_guard lock(mutex_);
    done_called_ = true;
    if (tasks_ > 0) return;  // the last task deletes
  }
  delete this;
}

void UpsertStream::TaskDone() {
  {
    std::lock_guard lock(mutex_);
    if (--tasks_ > 0 || !done_called_) return;
  }
  delete this;
}

void UpsertStream::OnRead(bool ok) {
  ReadItem item;
  if (ok) {
    const size_t bytes = request_.Length();
    auto message = std::make_shared<v1::UpsertRequest>();
    const grpc::Status parsed =
        grpc::SerializationTraits<v1::UpsertRequest>::Deserialize(&request_, message.get());
    if (parsed.ok()) {
      item.message = std::move(message);
    } else {
      item.error = absl::InvalidArgumentError(
          absl::StrCat("it is not a valid adanns.v1.UpsertRequest (", bytes,
                       " bytes of truncated or corrupt protobuf, or a string that is not UTF-8)"));
    }
  }
  const bool more = item.message != nullptr;  // no read after the end or a bad message
  bool read_next = false;
  bool commit = false;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    queued_.push_back(std::move(item));
    if (more) {
      read_next = queued_.size() < kMaxQueued || !committing_;
      read_deferred_ = !read_next;
      read_starting_ = read_next;
    }
    commit = !std::exchange(committing_, true);
  }
  if (read_next) StartNextRead();
  if (commit) CommitQueued();
}

void UpsertStream::CommitQueued() {
  for (;;) {
    ReadItem item;
    bool read_next;
    {
      std::lock_guard lock(mutex_);
      if (queued_.empty()) {
        committing_ = false;
        return;
      }
      item = std::move(queued_.front());
      queued_.pop_front();
      read_next = std::exchange(read_deferred_, false);
      read_starting_ = read_starting_ || read_next;
    }
    if (read_next) StartNextRead();
    if (item.message == nullptr && item.error.ok()) {
      End(absl::OkStatus());  // the client closed its side (or the call ended): all committed
      return;
    }
    const absl::Status status =
        item.error.ok() ? handle_(std::move(item.message), progress_) : item.error;
    if (!status.ok()) {
      End(absl::Status(status.code(),
                       absl::StrCat("message ", progress_.messages, " of the stream rejected: ",
                                    status.message(), " (", progress_.committed, " vectors from ",
                                    progress_.messages, " earlier messages were committed)")));
      return;
    }
  }
}

void UpsertStream::StartNextRead() {
  StartRead(&request_);
  {
    std::lock_guard lock(mutex_);
    read_starting_ = false;
  }
  read_started_.notify_all();
}

void UpsertStream::End(const absl::Status& status) {
  {
    // committing_ stays set: reads that finish later (they end with the call) are dropped. A
    // read another task decided to start goes first: StartRead may not follow Finish.
    std::unique_lock lock(mutex_);
    ended_ = true;
    read_started_.wait(lock, [this] { return !read_starting_; });
  }
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
