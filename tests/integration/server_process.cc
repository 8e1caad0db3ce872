// ServerProcess: fork/exec of adanns-server with --port_file, bounded waits, signals.
#include "tests/integration/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "grpcpp/grpcpp.h"

namespace adanns::testing {

std::string ServerBinary() { return ADANNS_SERVER_BIN; }
std::string CliBinary() { return ADANNS_CLI_BIN; }

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra_flags)
    : data_dir_(std::move(data_dir)), extra_flags_(std::move(extra_flags)) {
  port_file_ = data_dir_ + ".port";
  Launch();
}

ServerProcess::~ServerProcess() {
  if (running()) Kill();
}

void ServerProcess::Launch() {
  std::filesystem::remove(port_file_);
  std::vector<std::string> args = {
      ServerBinary(),      "--listen=127.0.0.1:0",      "--data_dir=" + data_dir_,
      "--metrics_listen=", "--port_file=" + port_file_, "--log_level=warn"};
  args.insert(args.end(), extra_flags_.begin(), extra_flags_.end());
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Bounded wait for the port file (written once the server serves).
  for (int attempt = 0; attempt < 600; ++attempt) {
    std::ifstream in(port_file_);
    if (in >> port_ && port_ > 0) return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("adanns-server exited during start-up");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
  throw std::runtime_error("adanns-server did not start within 30 s");
}

std::unique_ptr<v1::Adanns::Stub> ServerProcess::NewStub() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return v1::Adanns::NewStub(
      grpc::CreateCustomChannel(target(), grpc::InsecureChannelCredentials(), args));
}

int ServerProcess::Stop() {
  if (!running()) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int attempt = 0; attempt < 600; ++attempt) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
  return -1;
}

void ServerProcess::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ServerProcess::Pause() {
  if (running()) kill(pid_, SIGSTOP);
}

void ServerProcess::Resume() {
  if (running()) kill(pid_, SIGCONT);
}

v1::UpsertRequest UpsertMessage(const std::string& collection, const Write& write, uint32_t dim) {
  v1::UpsertRequest message;
  message.set_collection(collection);
  for (uint64_t id : write.ids) {
    v1::Vector* v = message.add_vectors();
    v->set_id(id);
    const std::vector<float> values = VectorFor(id, *write.version, dim);
    v->mutable_values()->Add(values.begin(), values.end());
  }
  return message;
}

grpc::Status UpsertStream(v1::Adanns::Stub& stub, const std::vector<v1::UpsertRequest>& messages,
                          std::chrono::seconds deadline) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::UpsertResponse response;
  auto writer = stub.Upsert(&context, &response);
  for (const auto& m : messages) {
    if (!writer->Write(m)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

bool GetVectors(v1::Adanns::Stub& stub, const std::string& collection,
                const std::vector<uint64_t>& ids, std::map<uint64_t, std::vector<float>>* found) {
  constexpr size_t kIdsPerRequest = 20000;  // keeps each response far below the message limit
  for (size_t begin = 0; begin < ids.size(); begin += kIdsPerRequest) {
    v1::GetRequest request;
    request.set_collection(collection);
    const size_t end = std::min(ids.size(), begin + kIdsPerRequest);
    for (size_t i = begin; i < end; ++i) request.add_ids(ids[i]);
    v1::GetResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!stub.Get(&context, request, &response).ok()) return false;
    for (const v1::Vector& v : response.vectors()) {
      (*found)[v.id()] = std::vector<float>(v.values().begin(), v.values().end());
    }
  }
  return true;
}

int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  if (output != nullptr) *output = std::move(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace adanns::testing
