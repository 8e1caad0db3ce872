// C++ client for the adanns gRPC service: one method per RPC with grpc::Status mapped 1:1 to
// absl::Status, plus streaming upserts that keep every message under the size limits. Idempotent
// calls are retried on UNAVAILABLE (see RetryOptions).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "adanns/v1/adanns.grpc.pb.h"
#include "adanns/v1/adanns.pb.h"
#include "client/readers/vector_reader.h"
#include "client/retry_policy.h"

namespace adanns::client {

namespace v1 = ::adanns::v1;

struct ClientOptions {
  // Largest message the channel sends or accepts, in bytes.
  // Default: 64 MiB.
  int max_message_bytes = 64 << 20;
  // How long Connect() waits for the server to accept the connection.
  // Default: 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Deadline of each unary call, its retries included; zero means none. Upsert streams never have
  // a deadline.
  // Default: 5 min.
  std::chrono::milliseconds call_timeout{5 * 60 * 1000};
  // Upper bound on the encoded size of one Upsert message. The default stays under gRPC's default
  // 4 MiB receive limit, so it works even against a server that kept it.
  // Default: 4,000,000 bytes.
  size_t upsert_message_bytes = 4'000'000;
  // API key sent with every call ("authorization: Bearer KEY"); empty sends none.
  std::string api_key;
  // TLS: PEM file of the CA that signed the server's certificate (set: TLS on), and for mutual
  // TLS the client's certificate chain and key. Empty: plaintext.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Name the server's certificate is checked against instead of the target's host.
  std::string tls_server_name;
  // Retries of idempotent calls on UNAVAILABLE: Search, SearchBatch, Get, Delete, Upsert and
  // UpsertRows (re-sent whole on a new stream: upserts by id are idempotent), UpdateCollection and
  // the Describe/List calls. Never retried: CreateCollection, DropCollection, BuildIndex,
  // DropIndex, Calibrate, CreateSnapshot, and UpsertFromReader (its reader cannot rewind).
  // The channel's reconnect backoff follows initial_backoff and max_backoff.
  RetryOptions retry;
  // Called before each retry's wait (logging); empty: silent.
  RetryObserver on_retry;
};

// Upserts never put more vectors than this in one message (the server's limit).
inline constexpr size_t kMaxVectorsPerMessage = 100000;

// Called after each Upsert message is handed to gRPC: vectors sent so far, and the total.
using UpsertProgress = std::function<void(uint64_t sent, uint64_t total)>;

// Thread-safe: calls may be made concurrently from several threads.
class Client {
 public:
  // Opens a channel (TLS when options.tls_ca_file is set) to `target` ("host:port") and waits
  // until it is connected. UNAVAILABLE when no server answers within options.connect_timeout;
  // NOT_FOUND for an unreadable TLS file.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& target,
                                                         const ClientOptions& options = {});
  // Uses an existing stub (tests, custom channels); no connection check. With `channel` (the
  // stub's), retry waits watch it, so that its reconnection makes progress meanwhile.
  Client(std::unique_ptr<v1::Adanns::StubInterface> stub, const ClientOptions& options,
         std::shared_ptr<grpc::Channel> channel = nullptr);

  absl::StatusOr<v1::CollectionInfo> CreateCollection(const v1::CreateCollectionRequest& request);
  absl::StatusOr<v1::CollectionInfo> DescribeCollection(
      const v1::DescribeCollectionRequest& request);
  absl::StatusOr<v1::ListCollectionsResponse> ListCollections(
      const v1::ListCollectionsRequest& request = {});
  absl::StatusOr<v1::DropCollectionResponse> DropCollection(
      const v1::DropCollectionRequest& request);
  absl::StatusOr<v1::BuildIndexResponse> BuildIndex(const v1::BuildIndexRequest& request);
  absl::StatusOr<v1::DropIndexResponse> DropIndex(const v1::DropIndexRequest& request);
  absl::StatusOr<v1::CalibrationInfo> Calibrate(const v1::CalibrateRequest& request);
  absl::StatusOr<v1::CollectionInfo> UpdateCollection(const v1::UpdateCollectionRequest& request);
  absl::StatusOr<v1::SnapshotInfo> CreateSnapshot(const v1::CreateSnapshotRequest& request);
  absl::StatusOr<v1::ListSnapshotsResponse> ListSnapshots();
  // Cluster routers only; waits as long as the client's deadline allows (re-running is safe).
  absl::StatusOr<v1::MoveShardResponse> MoveShard(const v1::MoveShardRequest& request);
  // Streams `messages` as they are (all of them again on a new stream on UNAVAILABLE); for large
  // inputs prefer UpsertRows / UpsertFromReader.
  absl::StatusOr<v1::UpsertResponse> Upsert(const std::vector<v1::UpsertRequest>& messages);
  absl::StatusOr<v1::GetResponse> Get(const v1::GetRequest& request);
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& request);
  absl::StatusOr<v1::SearchResponse> Search(const v1::SearchRequest& request);
  absl::StatusOr<v1::SearchBatchResponse> SearchBatch(const v1::SearchBatchRequest& request);

  // Upserts `count` row-major rows of `dim` floats with ids first_id, first_id + 1, ... in one
  // stream, split into messages within the size limits; on UNAVAILABLE, all of them again on a
  // new stream (progress then starts over). Returns the number of vectors the server
  // committed, or its error (whose message says how many earlier vectors were committed).
  absl::StatusOr<uint64_t> UpsertRows(const std::string& collection, uint64_t first_id,
                                      const float* rows, uint64_t count, uint32_t dim,
                                      const UpsertProgress& progress = nullptr);
  // Upserts every remaining row of `reader` in one stream, row i (counted from the start of the
  // file) with id id_offset + i; holds one message worth of rows in memory at a time. Not retried:
  // which messages of a broken stream were committed is unknown and the reader cannot rewind.
  absl::StatusOr<uint64_t> UpsertFromReader(const std::string& collection,
                                            readers::VectorReader& reader, uint64_t id_offset,
                                            const UpsertProgress& progress = nullptr);

  // Vectors of `dim` floats that fit one Upsert message for `collection` under the options.
  // INVALID_ARGUMENT when not even one fits in max_message_bytes.
  absl::StatusOr<size_t> VectorsPerUpsertMessage(const std::string& collection, uint32_t dim) const;

 private:
  // Fills one message from (first_id, rows) and writes it; shared by both Upsert helpers.
  class UpsertStream;

  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (v1::Adanns::StubInterface::*)(grpc::ClientContext*,
                                                                  const Request&, Response*);
  // Whether a call may be retried on UNAVAILABLE: repeating it changes nothing more than once.
  enum class Idempotent { kYes, kNo };
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallUnary(UnaryMethod<Request, Response> method, const Request& request,
                                     Idempotent idempotent);
  // Runs `attempt` once, or with retries under options_.retry.
  absl::Status Run(Idempotent idempotent,
                   std::optional<std::chrono::system_clock::time_point> deadline,
                   const std::function<absl::Status()>& attempt) const;
  // The deadline (none when unset) and the API key.
  void PrepareContext(grpc::ClientContext& context,
                      std::optional<std::chrono::system_clock::time_point> deadline) const;

  std::unique_ptr<v1::Adanns::StubInterface> stub_;
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;  // may be null
};

// grpc::Status -> absl::Status with the same code and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace adanns::client
