// An AdannsServer started in this process on a loopback ephemeral port with a temp data dir,
// plus a stub connected to it: the fixture of the request-level integration tests.
#pragma once

#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "adanns/v1/adanns.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/common/health_check.h"
#include "tests/common/temp_dir.h"

namespace adanns::testing {

// A budget holding an explicit flat plan: a scan at `search_dims`, then (with candidates) an exact
// re-rank of that many at the full dim.
inline v1::Budget FlatPlan(uint32_t search_dims, uint32_t rerank_candidates = 0) {
  v1::Budget budget;
  budget.mutable_plan()->set_index("flat");
  budget.mutable_plan()->set_search_dims(search_dims);
  if (rerank_candidates > 0) budget.mutable_plan()->set_rerank_candidates(rerank_candidates);
  return budget;
}

class InProcessServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = dir_.path() + "/data";
    options.metrics_listen = "";
    Configure(options);
    auto started = server::AdannsServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    stub_ = v1::Adanns::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                                    grpc::InsecureChannelCredentials()));
  }

  // Suites adjust the server's options here (limits, ...).
  virtual void Configure(server::ServerOptions& /*options*/) {}

  // Creates a collection and returns the status code.
  grpc::StatusCode Create(const std::string& name, uint32_t dim, v1::Metric metric) {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    request.set_dim(dim);
    request.set_metric(metric);
    v1::CollectionInfo info;
    grpc::ClientContext context;
    return stub_->CreateCollection(&context, request, &info).error_code();
  }

  // The raw HealthCheckResponse bytes of grpc.health.v1.Health/Check for the whole server, sent
  // without credentials ("" when the call fails).
  std::string HealthCheck() {
    return adanns::testing::HealthCheck("127.0.0.1:" + std::to_string(server_->port()));
  }

  // Sends one upsert message on its own stream; returns the stream's status.
  grpc::Status UpsertMessage(const v1::UpsertRequest& message, v1::UpsertResponse* response) {
    grpc::ClientContext context;
    auto writer = stub_->Upsert(&context, response);
    writer->Write(message);
    writer->WritesDone();
    return writer->Finish();
  }

  // The Prometheus exposition, scraped with curl (the suite must set options.metrics_listen).
  std::string ScrapeMetrics() {
    const std::string command =
        "curl -sf http://127.0.0.1:" + std::to_string(server_->metrics_port()) + "/metrics";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return "";
    std::string text;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) text.append(buffer, n);
    pclose(pipe);
    return text;
  }

  TempDir dir_;
  std::unique_ptr<server::AdannsServer> server_;
  std::unique_ptr<v1::Adanns::Stub> stub_;
};

}  // namespace adanns::testing
