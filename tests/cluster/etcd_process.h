// Runs Debian's etcd binary as child processes on loopback ephemeral ports, in a temp data
// directory, for the cluster tests: one member (EtcdProcess) or a cluster of several
// (EtcdCluster). Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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
  // SIGKILL and wait.
  void Kill();
  // Starts again on the same ports and data (after Stop).
  void Restart();

 private:
  friend class EtcdCluster;
  // A member `name` of a cluster whose members' peer URLs `initial_cluster` lists; Spawn starts
  // it (it answers only once a quorum of members runs).
  EtcdProcess(std::string data_dir, std::string name, int client_port, int peer_port,
              std::string initial_cluster);
  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }
  // Launches etcd; false when it exited during start-up (e.g. a port taken meanwhile).
  bool Launch();
  void Spawn();
  bool AwaitAnswer();

  std::string data_dir_;
  std::string tls_dir_;
  std::string name_ = "test";
  std::string initial_cluster_;  // empty: a one-member cluster
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

// A 3-member (by default) etcd cluster on loopback, each member with its own directory under
// data_dir.
class EtcdCluster {
 public:
  explicit EtcdCluster(const std::string& data_dir, int members = 3);

  // The client endpoints, comma-separated (a --etcd flag's value), member `first`'s first: a
  // client uses it until it fails.
  std::string endpoints(int first = 0) const;
  // A client of every member (it moves on to the next when one is unreachable).
  std::unique_ptr<cluster::EtcdClient> NewClient() const;
  // The member that is the raft leader (asked of each live member), or -1 when none answers.
  int Leader() const;
  EtcdProcess& member(int n) { return *members_[n]; }

 private:
  std::vector<std::unique_ptr<EtcdProcess>> members_;
};

// Polls (bounded) until exactly `count` data nodes are registered under /<cluster>/nodes/.
bool AwaitRegisteredNodes(cluster::EtcdClient& etcd, const std::string& cluster, size_t count,
                          std::chrono::milliseconds limit = std::chrono::seconds(10));
inline bool AwaitRegisteredNodes(const EtcdProcess& etcd, const std::string& cluster, size_t count,
                                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return AwaitRegisteredNodes(*etcd.NewClient(), cluster, count, limit);
}

// A loopback TCP port that was free a moment ago (bound to port 0, then released).
int FreeLoopbackPort();

}  // namespace adanns::testing
