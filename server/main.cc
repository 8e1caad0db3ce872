// adanns-server: flags → ServerOptions, start, wait for SIGTERM/SIGINT, shut down cleanly.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC address HOST:PORT (port 0 = any free)");
ABSL_FLAG(std::string, data_dir, "./data", "RocksDB data directory (created when missing)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus /metrics address HOST:PORT; empty disables it");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound gRPC port to this file once serving (for --listen=...:0)");
ABSL_FLAG(std::string, log_level, "info", "Log level: trace, debug, info, warn, error, off");
ABSL_FLAG(int, max_message_mb, 64, "Largest gRPC message accepted or sent, in MiB");
ABSL_FLAG(int, build_threads, 1,
          "Threads each background index build may use; keep below the core count so searches "
          "keep their latency");
ABSL_FLAG(int, search_threads, 0, "Threads one SearchBatch may use; 0 = the number of cores");

namespace {

int stop_pipe[2] = {-1, -1};

void OnStopSignal(int signal) {
  // write() is async-signal-safe; a second signal while the first is handled is harmless.
  [[maybe_unused]] const ssize_t written = write(stop_pipe[1], &signal, sizeof(signal));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("adanns-server: vector search for Matryoshka embeddings");
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  // A stop signal may land on any thread (libraries such as OpenBLAS start their own with an
  // open mask), so the handler only writes to a pipe that one thread waits on.
  if (pipe(stop_pipe) != 0) {
    spdlog::error("cannot create the signal pipe");
    return 1;
  }
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  adanns::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  options.build_threads = std::max(1, absl::GetFlag(FLAGS_build_threads));
  const int threads = absl::GetFlag(FLAGS_search_threads);
  options.service.search_threads =
      threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());

  auto server = adanns::server::AdannsServer::Start(options);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().ToString());
    return 1;
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    std::ofstream(port_file + ".tmp") << (*server)->port() << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());  // readers never see half
  }

  std::thread signal_waiter([&] {
    int signal = 0;
    while (read(stop_pipe[0], &signal, sizeof(signal)) < 0 && errno == EINTR) {
    }
    spdlog::info("signal {} received, shutting down", signal);
    (*server)->Shutdown();
  });
  (*server)->Wait();
  signal_waiter.join();
  return 0;
}
