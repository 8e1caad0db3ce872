// Runs Debian's etcd binary as a child process on loopback ephemeral ports, in a temp data
// directory, for the cluster tests. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "cluster/etcd_client.h"
#include "cluster/tls_credentials.h"

namespace adanns::testing {

class EtcdProcess {
 public:
  // Starts a one-member etcd with its data under `data_dir` and waits until it answers. With a
  // `tls_dir` (MakeTestCertificates' files), etcd serves its clients over TLS with server.pem and
  // requires client certificates signed by ca.pem; NewClient presents client.pem.
  explicit EtcdProcess(std::string data_dir, std::string tls_dir = "");
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // HOST:PORT of the client endpoint.
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  std::unique_ptr<cluster::EtcdClient> NewClient() const;
  // What a client of this etcd trusts and presents (all empty without TLS).
  cluster::TlsClientFiles ClientTls() const;
  bool running() const { return pid_ > 0; }

  // SIGTERM and wait (bounded; SIGKILL after 10 s).
  void Stop();
  // Starts again on the same ports and data (after Stop).
  void Restart();

 private:
  // Launches etcd; false when it exited during start-up (e.g. a port taken meanwhile).
  bool Launch();

  std::string data_dir_;
  std::string tls_dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

// Polls (bounded) until exactly `count` data nodes are registered under /<cluster>/nodes/.
bool AwaitRegisteredNodes(const EtcdProcess& etcd, const std::string& cluster, size_t count,
                          std::chrono::milliseconds limit = std::chrono::seconds(10));

// A loopback TCP port that was free a moment ago (bound to port 0, then released).
int FreeLoopbackPort();

}  // namespace adanns::testing
