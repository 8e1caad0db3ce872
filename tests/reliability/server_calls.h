// The unary calls the reliability tests make on a real server, each with a bounded deadline, and
// the recall check they share.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "adanns/v1/adanns.grpc.pb.h"
#include "grpcpp/support/status.h"

namespace adanns::testing {

// An L2 collection; `storage` sets its memory tiers (default: every vector whole in memory).
grpc::Status CreateCollection(v1::Adanns::Stub& stub, const std::string& name, uint32_t dim,
                              const v1::StorageOptions& storage = {});
grpc::Status Describe(v1::Adanns::Stub& stub, const std::string& name, v1::CollectionInfo* info);
// Starts a background IVF build (returns at once); 0 iterations = the server's default.
grpc::Status BuildIvf(v1::Adanns::Stub& stub, const std::string& collection, uint32_t nlist,
                      uint64_t seed, uint32_t kmeans_iterations = 0);
// Starts a background calibration on `queries` sampled stored vectors (returns at once).
grpc::Status Calibrate(v1::Adanns::Stub& stub, const std::string& collection, uint32_t queries,
                       uint64_t seed);

// The state of index `name` ("" when the collection has none).
std::string IndexState(const v1::CollectionInfo& info, const std::string& name);
// Polls until index `name` is no longer building (bounded by `timeout`); returns its last state.
std::string WaitForIndex(v1::Adanns::Stub& stub, const std::string& collection,
                         const std::string& name, std::chrono::seconds timeout);
// Polls until the calibration is no longer running (bounded by `timeout`); returns its state.
std::string WaitForCalibration(v1::Adanns::Stub& stub, const std::string& collection,
                               std::chrono::seconds timeout);

// Mean recall@k of the IVF (probing `nprobe` lists) against flat search with the same re-rank
// depth (exact when every dim is in memory; the funnel from the resident prefix on a tiered
// collection), over `queries` seeded random queries; a negative value when a search failed.
double IvfRecall(v1::Adanns::Stub& stub, const std::string& collection, uint32_t dim,
                 uint32_t nprobe, int queries, uint64_t seed);

}  // namespace adanns::testing
