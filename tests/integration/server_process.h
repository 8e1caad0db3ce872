// Runs the real adanns-server binary as a child process on a loopback ephemeral port, for tests
// that restart or SIGKILL it. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adanns/v1/adanns.grpc.pb.h"
#include "grpcpp/support/status.h"
#include "tests/common/acknowledged_writes.h"
#include "tests/common/temp_dir.h"

namespace adanns::testing {

class ServerProcess {
 public:
  // Starts adanns-server on 127.0.0.1:0 with `data_dir`; waits (bounded) until it serves.
  explicit ServerProcess(std::string data_dir, std::vector<std::string> extra_flags = {});
  ~ServerProcess();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  std::unique_ptr<v1::Adanns::Stub> NewStub() const;

  // SIGTERM and wait; returns the exit status (0 on a clean shutdown).
  int Stop();
  // SIGKILL and wait.
  void Kill();
  // SIGSTOP / SIGCONT: the process freezes with its sockets open (a long GC pause, a VM
  // migration), then goes on where it stopped. Kill() also ends a paused process.
  void Pause();
  void Resume();

 private:
  void Launch();

  std::string data_dir_;
  std::vector<std::string> extra_flags_;
  std::string port_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// An upsert message of `write` (which must be an upsert) into `collection`.
v1::UpsertRequest UpsertMessage(const std::string& collection, const Write& write, uint32_t dim);

// Streams the messages; OK when the whole stream was acknowledged within `deadline`.
grpc::Status UpsertStream(v1::Adanns::Stub& stub, const std::vector<v1::UpsertRequest>& messages,
                          std::chrono::seconds deadline = std::chrono::seconds(30));

// Fetches the stored vectors of `ids` (in bounded requests) into *found; false on an RPC error.
bool GetVectors(v1::Adanns::Stub& stub, const std::string& collection,
                const std::vector<uint64_t>& ids, std::map<uint64_t, std::vector<float>>* found);

// Path of a built binary, from the compile definitions of the test target.
std::string ServerBinary();
std::string CliBinary();

// Runs a command line through /bin/sh, returns its exit code and (in *output) its stdout.
int RunCommand(const std::string& command, std::string* output = nullptr);

}  // namespace adanns::testing
