// A mixed client load on a real server over loopback: writer threads stream upserts and send
// deletes (each write recorded in an AcknowledgedWrites ledger once answered, or as in flight
// when no answer came), searcher threads search. Every RPC has a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "adanns/v1/adanns.grpc.pb.h"
#include "tests/common/acknowledged_writes.h"
#include "tests/integration/server_process.h"
#include "tests/reliability/write_chooser.h"

namespace adanns::testing {

struct WorkloadOptions {
  std::string collection;
  uint32_t dim = 32;
  int writers = 3;
  int searchers = 1;
  // Ids per upsert message.
  uint64_t block_size = 20;
  // Blocks per writer: once reached, writers rewrite existing blocks instead of adding new ones
  // (a bounded data set for soaks). 0 = no bound.
  uint64_t max_blocks_per_writer = 0;
  // Plan index searches use ("" = the server's automatic choice).
  std::string search_index;
  // Deadline of every RPC.
  std::chrono::seconds deadline{10};
};

// Request latencies of one kind, in microseconds.
struct LatencySamples {
  std::vector<double> upsert_us, delete_us, search_us;
  void Clear() { upsert_us.clear(), delete_us.clear(), search_us.clear(); }
};

class LoopbackWorkload {
 public:
  LoopbackWorkload(const ServerProcess& server, WorkloadOptions options, WorkloadState* state,
                   AcknowledgedWrites* ledger, uint64_t seed);
  ~LoopbackWorkload();  // stops the threads

  void Start();
  // From now on a failed RPC is the expected result of a kill, not an error.
  void ExpectServerGone() { server_gone_ = true; }
  // Asks the threads to stop and joins them (bounded by the RPC deadline).
  void Stop();

  // Failed RPCs while the server was expected up, and the first one's message.
  int errors() const { return errors_; }
  std::string first_error() const;
  int64_t acknowledged_writes() const { return acknowledged_writes_; }
  int64_t searches() const { return searches_; }
  // Latencies since the last call.
  LatencySamples TakeLatencies();

 private:
  void Writer(int writer, uint64_t seed);
  void Searcher(uint64_t seed);
  // Records a failed RPC; returns false so the thread stops.
  bool Failed(const std::string& what, const grpc::Status& status);
  void Record(std::vector<double> LatencySamples::*kind, std::chrono::steady_clock::time_point t0);

  const WorkloadOptions options_;
  WorkloadState* state_;
  AcknowledgedWrites* ledger_;
  const uint64_t seed_;
  std::unique_ptr<v1::Adanns::Stub> stub_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> server_gone_{false};
  std::atomic<int> errors_{0};
  std::atomic<int64_t> acknowledged_writes_{0};
  std::atomic<int64_t> searches_{0};
  mutable std::mutex mu_;  // guards the two below
  std::string first_error_;
  LatencySamples latencies_;
};

// The p-th percentile (0..100) of `samples` (0 for none).
double Percentile(std::vector<double> samples, double p);

}  // namespace adanns::testing
