// The metrics endpoint checked by Prometheus's own tools on loopback: the exposition passes
// `promtool check metrics`, and a real Prometheus server scrapes it and answers queries on the
// adanns_ series (Debian's prometheus package; install-deps installs it).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/in_process_server.h"

namespace adanns::testing {
namespace {

// Runs a shell command, returning its exit status and stdout + stderr.
int Shell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  output->clear();
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A loopback port nobody listens on right now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t size = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

class PrometheusTest : public InProcessServerTest {
 protected:
  void Configure(server::ServerOptions& options) override {
    options.metrics_listen = "127.0.0.1:0";
    options.service.recall_check_fraction = 1.0;  // every search checked: the families have samples
  }

  void SetUp() override {
    std::string ignored;
    if (Shell("command -v promtool && command -v prometheus && command -v curl", &ignored) != 0) {
      GTEST_SKIP() << "prometheus, promtool or curl missing (deploy/install-deps.sh installs them)";
    }
    InProcessServerTest::SetUp();
    // Some traffic, so that every family has samples: a collection, an upsert, searches.
    ASSERT_EQ(Create("c", 4, v1::L2), grpc::StatusCode::OK);
    v1::UpsertRequest message;
    message.set_collection("c");
    for (uint64_t id = 0; id < 20; ++id) {
      v1::Vector* v = message.add_vectors();
      v->set_id(id);
      for (int j = 0; j < 4; ++j) v->add_values(static_cast<float>(id + j));
    }
    v1::UpsertResponse response;
    ASSERT_TRUE(UpsertMessage(message, &response).ok());
    for (const float recall : {0.0f, 0.9f}) {  // the second is refused: not calibrated
      v1::SearchRequest request;
      request.set_collection("c");
      for (int j = 0; j < 4; ++j) request.add_query(1.0f);
      request.set_k(3);
      if (recall > 0) request.mutable_budget()->set_target_recall(recall);
      v1::SearchResponse found;
      grpc::ClientContext context;
      stub_->Search(&context, request, &found);
    }
  }

  std::string MetricsUrl() const {
    return "http://127.0.0.1:" + std::to_string(server_->metrics_port()) + "/metrics";
  }
};

// The search above was re-run exactly in the background: the flat plan's recall is 1.
TEST_F(PrometheusTest, TheOnlineRecallCheckIsExported) {
  std::string text;
  for (int attempt = 0; attempt < 100; ++attempt) {
    ASSERT_EQ(Shell("curl -sf " + MetricsUrl(), &text), 0) << text;
    if (text.find("adanns_budget_observed_recall{") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(text.find("adanns_budget_observed_recall{collection=\"c\",index=\"flat\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("adanns_budget_checks_total{collection=\"c\",outcome=\"checked\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("adanns_budget_target_misses_total{collection=\"c\"} 0"), std::string::npos);
}

TEST_F(PrometheusTest, ExpositionPassesPromtool) {
  std::string exposition;
  ASSERT_EQ(Shell("curl -sf " + MetricsUrl(), &exposition), 0);
  for (const char* family :
       {"adanns_requests_total", "adanns_request_duration_seconds_bucket",
        "adanns_collection_vectors", "adanns_ingest_vectors_total", "adanns_ingest_bytes_total",
        "adanns_search_mflops_bucket", "adanns_search_vectors_scanned_bucket",
        "adanns_search_dims_bucket", "adanns_rocksdb_size_bytes",
        "adanns_rocksdb_pending_compaction_bytes", "adanns_process_resident_bytes",
        "adanns_malloc_in_use_bytes", "adanns_malloc_free_bytes"}) {
    EXPECT_NE(exposition.find(family), std::string::npos) << family;
  }
  std::string report;
  const int status = Shell("curl -sf " + MetricsUrl() + " | promtool check metrics", &report);
  EXPECT_EQ(status, 0) << report;
}

TEST_F(PrometheusTest, ARealPrometheusScrapesIt) {
  const int port = FreePort();
  const std::string dir = dir_.path();
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: adanns\n"
      << "    static_configs:\n      - targets: ['127.0.0.1:" << server_->metrics_port() << "']\n";
  const pid_t prometheus = fork();
  ASSERT_GE(prometheus, 0);
  if (prometheus == 0) {
    const std::string config = "--config.file=" + dir + "/prometheus.yml";
    const std::string storage = "--storage.tsdb.path=" + dir + "/tsdb";
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
    const std::string log = dir + "/prometheus.log";
    freopen(log.c_str(), "w", stdout);
    freopen(log.c_str(), "a", stderr);
    execlp("prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  // Bounded: up to 60 s for Prometheus to start, scrape and answer.
  const std::string query =
      "curl -sf 'http://127.0.0.1:" + std::to_string(port) +
      "/api/v1/query?query=adanns_collection_vectors%7Bcollection%3D%22c%22%7D'";
  std::string answer;
  bool scraped = false;
  for (int attempt = 0; attempt < 120 && !scraped; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    scraped = Shell(query, &answer) == 0 && answer.find("\"20\"") != std::string::npos;
  }
  std::string up;
  Shell("curl -sf 'http://127.0.0.1:" + std::to_string(port) + "/api/v1/query?query=up'", &up);
  kill(prometheus, SIGTERM);
  waitpid(prometheus, nullptr, 0);
  EXPECT_TRUE(scraped) << "last answer: " << answer << "\n(see " << dir << "/prometheus.log)";
  EXPECT_NE(up.find("\"1\""), std::string::npos) << up;  // the target is up
}

}  // namespace
}  // namespace adanns::testing
