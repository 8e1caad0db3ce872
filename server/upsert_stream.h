// The streaming Upsert as a raw callback reactor. gRPC hands over each message's bytes and they are
// parsed here, so a message that does not parse fails the call with INVALID_ARGUMENT naming it: the
// sync API's reader reports such a message as the end of the stream, and the call used to answer OK
// with only the earlier messages committed. Messages are handled one at a time, in stream order, on
// a worker pool: a synced write must not block gRPC's callback threads. The next message is read
// while one commits (its bytes are already parsed out of the read buffer), so receiving overlaps
// the synced write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/status/status.h"
#include "adanns/v1/adanns.pb.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/collection.h"
#include "server/worker_pool.h"

namespace adanns::server {

// What a stream has done so far.
struct UpsertProgress {
  std::shared_ptr<Collection> collection;  // named by the first message
  uint64_t committed = 0;                  // vectors of the messages committed
  size_t messages = 0;                     // messages committed
};

class UpsertStream : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  // Commits one parsed message (validation included), updating `progress` only on success.
  using MessageHandler =
      std::function<absl::Status(const v1::UpsertRequest& message, UpsertProgress& progress)>;
  // Called once with the call's final status (metrics, gauges).
  using DoneHandler = std::function<void(const absl::Status& status, const UpsertProgress&)>;

  // `admitted` not OK (e.g. a missing API key) ends the call at once with it. `response` receives
  // the serialized UpsertResponse.
  UpsertStream(const absl::Status& admitted, WorkerPool* pool, MessageHandler handle,
               DoneHandler done, grpc::ByteBuffer* response);

  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  // Handles the read that finished with `ok`, then any that finished meanwhile.
  void HandleReads(bool ok);
  // Parses and commits the message in request_, reading the next one meanwhile. False: the call
  // ended.
  bool HandleMessage();
  void End(const absl::Status& status);

  WorkerPool* pool_;
  MessageHandler handle_;
  DoneHandler done_;
  grpc::ByteBuffer* response_;
  grpc::ByteBuffer request_;
  UpsertProgress progress_;
  std::mutex mutex_;
  // A pool task is handling reads (stays set once the call ended, so late reads are ignored).
  bool handling_ = false;              // guarded by mutex_
  std::optional<bool> finished_read_;  // a read that finished meanwhile; guarded by mutex_
};

}  // namespace adanns::server
