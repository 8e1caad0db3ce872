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
#include <cstring>
#include <filesystem>
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

std::unique_ptr<cluster::EtcdClient> NewEtcdClient(std::vector<std::string> endpoints,
                                                   const cluster::TlsClientFiles& tls) {
  cluster::EtcdOptions options;
  options.endpoints = std::move(endpoints);
  options.call_timeout = absl::Seconds(2);
  auto credentials = cluster::TlsClientCredentials(tls, "--etcd_");
  if (!credentials.ok()) throw std::runtime_error(credentials.status().ToString());
  options.credentials = *std::move(credentials);
  auto client = cluster::EtcdClient::Create(options);
  if (!client.ok()) throw std::runtime_error(client.status().ToString());
  return std::move(*client);
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

EtcdProcess::EtcdProcess(std::string data_dir, std::string name, int client_port, int peer_port,
                         std::string initial_cluster)
    : data_dir_(std::move(data_dir)),
      name_(std::move(name)),
      initial_cluster_(std::move(initial_cluster)),
      client_port_(client_port),
      peer_port_(peer_port) {
  std::filesystem::create_directories(data_dir_);
}

std::unique_ptr<cluster::EtcdClient> EtcdProcess::NewClient() const {
  return NewEtcdClient({endpoint()}, ClientTls());
}

bool EtcdProcess::Launch() {
  Spawn();
  return AwaitAnswer();
}

void EtcdProcess::Spawn() {
  const std::string client_url = (tls_dir_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
                                 std::to_string(client_port_);
  std::vector<std::string> args = {
      ADANNS_ETCD_BIN,
      "--name=" + name_,
      "--data-dir=" + data_dir_ + "/etcd",
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url(),
      "--initial-advertise-peer-urls=" + peer_url(),
      "--initial-cluster=" +
          (initial_cluster_.empty() ? name_ + "=" + peer_url() : initial_cluster_),
      "--initial-cluster-state=new",
      "--log-level=warn"};
  if (!tls_dir_.empty()) {
    args.insert(args.end(), {"--cert-file=" + tls_dir_ + "/server.pem",
                             "--key-file=" + tls_dir_ + "/server.key",
                             "--trusted-ca-file=" + tls_dir_ + "/ca.pem", "--client-cert-auth"});
  }
  // Built before fork: the child of a threaded process only execs.
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Only the flags configure it: etcd also reads ETCD_* variables of the environment.
  std::vector<char*> env;
  for (char** var = environ; *var != nullptr; ++var) {
    if (std::strncmp(*var, "ETCD_", 5) != 0) env.push_back(*var);
  }
  env.push_back(nullptr);
  const std::string log_path = data_dir_ + "/etcd.log";
  pid_ = fork();
  if (pid_ == 0) {
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    execve(argv[0], argv.data(), env.data());
    _exit(127);
  }
}

bool EtcdProcess::AwaitAnswer() {
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

void EtcdProcess::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void EtcdProcess::Restart() {
  if (running()) return;
  if (!Launch()) throw std::runtime_error("etcd did not restart (see " + data_dir_ + "/etcd.log)");
}

EtcdCluster::EtcdCluster(const std::string& data_dir, int members) {
  // Ports chosen free can be taken before etcd binds them: try a few sets, each in its own
  // directories (a member keeps the cluster it first bootstrapped).
  for (int attempt = 0; attempt < 3; ++attempt) {
    members_.clear();
    std::vector<std::pair<int, int>> ports;  // client, peer
    std::string initial_cluster;
    for (int n = 0; n < members; ++n) {
      ports.emplace_back(FreeLoopbackPort(), FreeLoopbackPort());
      initial_cluster += (n == 0 ? "" : ",") + std::string("m") + std::to_string(n) +
                         "=http://127.0.0.1:" + std::to_string(ports.back().second);
    }
    for (int n = 0; n < members; ++n) {
      members_.push_back(std::unique_ptr<EtcdProcess>(new EtcdProcess(
          data_dir + "/etcd" + std::to_string(attempt) + "-" + std::to_string(n),
          "m" + std::to_string(n), ports[n].first, ports[n].second, initial_cluster)));
    }
    // All first: a member answers only once a quorum runs.
    for (auto& member : members_) member->Spawn();
    bool answered = true;
    for (auto& member : members_) answered = answered && member->AwaitAnswer();
    if (answered) return;
  }
  members_.clear();
  throw std::runtime_error("the etcd cluster did not start (see " + data_dir + "/etcd*/etcd.log)");
}

std::string EtcdCluster::endpoints(int first) const {
  std::string joined;
  for (size_t n = 0; n < members_.size(); ++n) {
    joined += (n == 0 ? "" : ",") + members_[(first + n) % members_.size()]->endpoint();
  }
  return joined;
}

std::unique_ptr<cluster::EtcdClient> EtcdCluster::NewClient() const {
  std::vector<std::string> endpoints;
  for (const auto& member : members_) endpoints.push_back(member->endpoint());
  return NewEtcdClient(std::move(endpoints), {});
}

int EtcdCluster::Leader() const {
  for (size_t n = 0; n < members_.size(); ++n) {
    if (!members_[n]->running()) continue;
    auto maintenance = etcdserverpb::Maintenance::NewStub(
        grpc::CreateChannel(members_[n]->endpoint(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    etcdserverpb::StatusResponse status;
    if (maintenance->Status(&context, etcdserverpb::StatusRequest(), &status).ok() &&
        status.leader() != 0 && status.leader() == status.header().member_id()) {
      return static_cast<int>(n);
    }
  }
  return -1;
}

bool AwaitRegisteredNodes(cluster::EtcdClient& etcd, const std::string& cluster, size_t count,
                          std::chrono::milliseconds limit) {
  return Eventually(
      [&] {
        auto nodes = etcd.GetPrefix("/" + cluster + "/nodes/");
        return nodes.ok() && nodes->kvs.size() == count;
      },
      limit);
}

}  // namespace adanns::testing
