// Metrics: families are registered once; labelled children are created on first use.
#include "server/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace adanns::server {

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(&prometheus::BuildCounter()
                     .Name("adanns_requests_total")
                     .Help("RPCs handled, by method and gRPC status code")
                     .Register(*registry_)),
      latency_(&prometheus::BuildHistogram()
                    .Name("adanns_request_duration_seconds")
                    .Help("RPC latency in seconds, by method")
                    .Register(*registry_)),
      vectors_(&prometheus::BuildGauge()
                    .Name("adanns_collection_vectors")
                    .Help("Live vectors per collection")
                    .Register(*registry_)) {}

Metrics::~Metrics() = default;

absl::Status Metrics::Serve(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  return absl::OkStatus();
}

int Metrics::port() const {
  if (!exposer_) return 0;
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::RecordRequest(const std::string& method, const std::string& code, double seconds) {
  std::lock_guard lock(mutex_);
  requests_->Add({{"method", method}, {"code", code}}).Increment();
  auto [it, inserted] = latency_by_method_.try_emplace(method, nullptr);
  if (inserted) {
    // 50 µs .. ~6.5 s, doubling.
    prometheus::Histogram::BucketBoundaries buckets;
    for (double b = 50e-6; b < 8.0; b *= 2) buckets.push_back(b);
    it->second = &latency_->Add({{"method", method}}, buckets);
  }
  it->second->Observe(seconds);
}

void Metrics::SetCollectionVectors(const std::string& collection, double count) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = vectors_by_collection_.try_emplace(collection, nullptr);
  if (inserted) it->second = &vectors_->Add({{"collection", collection}});
  it->second->Set(count);
}

void Metrics::RemoveCollection(const std::string& collection) {
  std::lock_guard lock(mutex_);
  auto it = vectors_by_collection_.find(collection);
  if (it == vectors_by_collection_.end()) return;
  vectors_->Remove(it->second);
  vectors_by_collection_.erase(it);
}

}  // namespace adanns::server
