// The streaming Upsert as a raw callback reactor. gRPC hands over each message's bytes and they are
// parsed here, so a message that does not parse fails the call with INVALID_ARGUMENT naming it: the
// sync API's reader reports such a message as the end of the stream, and the call used to answer OK
// with only the earlier messages committed. Messages are handled one at a time, in stream order, on
// a worker pool: a synced write must not block gRPC's callback threads. Messages are parsed as they
// arrive and the next is read while one commits, so receiving and parsing overlap the synced write
// (and Collection's applier overlaps it with the table's copy).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

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
  std::string collection_name;             // the same, on a router (which holds no Collection)
  uint64_t committed = 0;                  // vectors of the messages committed
  size_t messages = 0;                     // messages committed
  uint64_t last_ticket = 0;  // Collection::CommitUpsert's ticket of the last message committed
};

class UpsertStream : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  // Commits one parsed message (validation included), updating `progress` only on success. It may
  // return before the table has the rows (they point into `message`, which it may keep).
  using MessageHandler = std::function<absl::Status(
      std::shared_ptr<const v1::UpsertRequest> message, UpsertProgress& progress)>;
  // Called once with the call's final status, before the response is sent: it waits until the
  // committed messages are searchable, then records metrics and gauges.
  using DoneHandler = std::function<void(const absl::Status& status, const UpsertProgress&)>;

  // `admitted` not OK (e.g. a missing API key) ends the call at once with it. `response` receives
  // the serialized UpsertResponse.
  UpsertStream(const absl::Status& admitted, WorkerPool* pool, MessageHandler handle,
               DoneHandler done, grpc::ByteBuffer* response);

  void OnReadDone(bool ok) override;
  // gRPC's last call; the object goes once no pool task of it is left.
  void OnDone() override;

 private:
  // What a finished read gave: a parsed message, the end of the stream (null message, OK), or a
  // message that does not parse (null message, the error).
  struct ReadItem {
    std::shared_ptr<const v1::UpsertRequest> message;
    absl::Status error;
  };
  // On the pool: parses what the read brought, queues it, starts the next read when there is room,
  // and commits queued items unless another task already does.
  void OnRead(bool ok);
  // Commits queued items in stream order until the queue is empty or the call ends.
  void CommitQueued();
  // StartRead for a read decided under mutex_ (read_starting_ set), then clears read_starting_.
  void StartNextRead();
  void End(const absl::Status& status);
  // A pool task ends; deletes the object when it was the last and OnDone has come.
  void TaskDone();

  // Parsed messages waiting for their commit, at most this many: with the one committing and the
  // one being read, a stream holds at most four messages.
  static constexpr size_t kMaxQueued = 2;

  WorkerPool* pool_;
  MessageHandler handle_;
  DoneHandler done_;
  grpc::ByteBuffer* response_;
  grpc::ByteBuffer request_;  // the read in flight fills it; parsed before the next read starts
  UpsertProgress progress_;   // only the committing task touches it
  std::mutex mutex_;
  std::deque<ReadItem> queued_;  // guarded by mutex_
  bool read_deferred_ = false;   // guarded by mutex_: the queue was full, the committer reads
  bool committing_ = false;      // guarded by mutex_: a task commits (stays set once ended)
  bool ended_ = false;           // guarded by mutex_: Finish was called; no read may start
  bool read_starting_ = false;   // guarded by mutex_: a task is between deciding and StartRead
  std::condition_variable read_started_;
  size_t tasks_ = 0;          // guarded by mutex_: posted OnRead tasks not yet done
  bool done_called_ = false;  // guarded by mutex_: OnDone came
};

}  // namespace adanns::server
