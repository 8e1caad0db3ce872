// EtcdProcess: fork/exec of etcd with bounded waits.
#include "tests/cluster/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/cluster/eventually.h"

namespace adanns::testing {

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    throw std::runtime_error("bind(127.0.0.1:0) failed");
  }
  close(fd);
  return ntohs(address.sin_port);
}

namespace {

bool PortAccepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool accepted = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return accepted;
}

}  // namespace

EtcdProcess::EtcdProcess(std::string data_dir, std::string tls_dir)
    : data_dir_(std::move(data_dir)), tls_dir_(std::move(tls_dir)) {
  // Ports chosen free can be taken before etcd binds them: try a few pairs.
  for (int attempt = 0; attempt < 3; ++attempt) {
    client_port_ = FreeLoopbackPort();
    peer_port_ = FreeLoopbackPort();
    if (client_port_ != peer_port_ && Launch()) return;
  }
  throw std::runtime_error("etcd did not start (see " + data_dir_ + "/etcd.log)");
}

EtcdProcess::~EtcdProcess() { Stop(); }

cluster::TlsClientFiles EtcdProcess::ClientTls() const {
  if (tls_dir_.empty()) return {};
  return {tls_dir_ + "/ca.pem", tls_dir_ + "/client.pem", tls_dir_ + "/client.key"};
}

std::unique_ptr<cluster::EtcdClient> EtcdProcess::NewClient() const {
  cluster::EtcdOptions options;
  options.endpoints = {endpoint()};
  options.call_timeout = absl::Seconds(2);
  auto credentials = cluster::TlsClientCredentials(ClientTls(), "--etcd_");
  if (!credentials.ok()) throw std::runtime_error(credentials.status().ToString());
  options.credentials = *std::move(credentials);
  auto client = cluster::EtcdClient::Create(options);
  if (!client.ok()) throw std::runtime_error(client.status().ToString());
  return std::move(*client);
}

bool EtcdProcess::Launch() {
  const std::string client_url = (tls_dir_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
                                 std::to_string(client_port_);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {ADANNS_ETCD_BIN,
                                   "--name=test",
                                   "--data-dir=" + data_dir_ + "/etcd",
                                   "--listen-client-urls=" + client_url,
                                   "--advertise-client-urls=" + client_url,
                                   "--listen-peer-urls=" + peer_url,
                                   "--initial-advertise-peer-urls=" + peer_url,
                                   "--initial-cluster=test=" + peer_url,
                                   "--log-level=warn"};
  if (!tls_dir_.empty()) {
    args.insert(args.end(), {"--cert-file=" + tls_dir_ + "/server.pem",
                             "--key-file=" + tls_dir_ + "/server.key",
                             "--trusted-ca-file=" + tls_dir_ + "/ca.pem", "--client-cert-auth"});
  }
  pid_ = fork();
  if (pid_ == 0) {
    const int log = open((data_dir_ + "/etcd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // First wait for the port to accept connections (a gRPC channel refused early would wait out
  // its reconnect back-off), then for etcd to answer.
  std::unique_ptr<cluster::EtcdClient> client;
  for (int attempt = 0; attempt < 200; ++attempt) {  // 20 s at most
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (client == nullptr && PortAccepts(client_port_)) client = NewClient();
    if (client != nullptr && client->Get("/").ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Stop();
  return false;
}

void EtcdProcess::Stop() {
  if (!running()) return;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void EtcdProcess::Restart() {
  if (running()) return;
  if (!Launch()) throw std::runtime_error("etcd did not restart (see " + data_dir_ + "/etcd.log)");
}

bool AwaitRegisteredNodes(const EtcdProcess& etcd, const std::string& cluster, size_t count,
                          std::chrono::milliseconds limit) {
  auto client = etcd.NewClient();
  return Eventually(
      [&] {
        auto nodes = client->GetPrefix("/" + cluster + "/nodes/");
        return nodes.ok() && nodes->kvs.size() == count;
      },
      limit);
}

}  // namespace adanns::testing
