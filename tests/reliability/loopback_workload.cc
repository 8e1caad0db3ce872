// LoopbackWorkload (see loopback_workload.h).
#include "tests/reliability/loopback_workload.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "grpcpp/grpcpp.h"

namespace adanns::testing {
namespace {

void SetDeadline(grpc::ClientContext& context, std::chrono::seconds deadline) {
  context.set_deadline(std::chrono::system_clock::now() + deadline);
}

}  // namespace

LoopbackWorkload::LoopbackWorkload(const ServerProcess& server, WorkloadOptions options,
                                   WorkloadState* state, AcknowledgedWrites* ledger, uint64_t seed)
    : options_(std::move(options)),
      state_(state),
      ledger_(ledger),
      seed_(seed),
      stub_(server.NewStub()) {}

LoopbackWorkload::~LoopbackWorkload() { Stop(); }

void LoopbackWorkload::Start() {
  for (int w = 0; w < options_.writers; ++w) {
    threads_.emplace_back([this, w] { Writer(w, seed_ * 1000 + w); });
  }
  for (int s = 0; s < options_.searchers; ++s) {
    threads_.emplace_back([this, s] { Searcher(seed_ * 1000 + 500 + s); });
  }
}

void LoopbackWorkload::Stop() {
  stop_ = true;
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

std::string LoopbackWorkload::first_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

LatencySamples LoopbackWorkload::TakeLatencies() {
  std::lock_guard<std::mutex> lock(mu_);
  LatencySamples taken = std::move(latencies_);
  latencies_.Clear();
  return taken;
}

bool LoopbackWorkload::Failed(const std::string& what, const grpc::Status& status) {
  if (server_gone_) return false;
  ++errors_;
  std::lock_guard<std::mutex> lock(mu_);
  if (first_error_.empty()) {
    first_error_ =
        what + ": code " + std::to_string(status.error_code()) + " " + status.error_message();
  }
  return false;
}

void LoopbackWorkload::Record(std::vector<double> LatencySamples::*kind,
                              std::chrono::steady_clock::time_point t0) {
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(mu_);
  (latencies_.*kind).push_back(us);
}

void LoopbackWorkload::Writer(int writer, uint64_t seed) {
  WriteChooser chooser(state_, writer, options_.block_size, options_.max_blocks_per_writer, seed);
  std::mt19937_64 rng(seed);
  while (!stop_) {
    const auto t0 = std::chrono::steady_clock::now();
    Write first = chooser.Next();
    if (!first.version) {
      const Write& write = first;
      v1::DeleteRequest request;
      request.set_collection(options_.collection);
      request.mutable_ids()->Add(write.ids.begin(), write.ids.end());
      v1::DeleteResponse response;
      grpc::ClientContext context;
      SetDeadline(context, options_.deadline);
      const grpc::Status status = stub_->Delete(&context, request, &response);
      if (!status.ok()) {
        ledger_->InFlight(write);
        Failed("delete", status);
        return;
      }
      ledger_->Acknowledge(write);
      Record(&LatencySamples::delete_us, t0);
    } else {
      // A stream of one to three messages, each on its own block (each is one atomic write).
      std::vector<Write> writes;
      std::vector<v1::UpsertRequest> messages;
      std::set<uint64_t> blocks;
      for (size_t m = 1 + rng() % 3; m > 0; --m) {
        Write write = writes.empty() ? std::move(first) : chooser.Upsert();
        if (!blocks.insert(write.ids.front()).second) continue;
        messages.push_back(UpsertMessage(options_.collection, write, options_.dim));
        writes.push_back(std::move(write));
      }
      const grpc::Status status = UpsertStream(*stub_, messages, options_.deadline);
      if (!status.ok()) {
        for (const Write& write : writes) ledger_->InFlight(write);
        Failed("upsert", status);
        return;
      }
      for (const Write& write : writes) ledger_->Acknowledge(write);
      Record(&LatencySamples::upsert_us, t0);
    }
    ++acknowledged_writes_;
  }
}

void LoopbackWorkload::Searcher(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  while (!stop_) {
    v1::SearchRequest request;
    request.set_collection(options_.collection);
    request.set_k(10);
    for (uint32_t d = 0; d < options_.dim; ++d) request.add_query(uniform(rng));
    if (!options_.search_index.empty()) {
      request.mutable_budget()->mutable_plan()->set_index(options_.search_index);
    }
    v1::SearchResponse response;
    grpc::ClientContext context;
    SetDeadline(context, options_.deadline);
    const auto t0 = std::chrono::steady_clock::now();
    const grpc::Status status = stub_->Search(&context, request, &response);
    if (!status.ok()) {
      Failed("search", status);
      return;
    }
    Record(&LatencySamples::search_us, t0);
    ++searches_;
  }
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  const size_t rank = std::min(samples.size() - 1,
                               static_cast<size_t>(std::ceil(p / 100 * samples.size())) - (p > 0));
  std::nth_element(samples.begin(), samples.begin() + rank, samples.end());
  return samples[rank];
}

}  // namespace adanns::testing
