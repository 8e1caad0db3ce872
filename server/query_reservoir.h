// A bounded sample of a collection's recent search queries, for calibrations that measure plans on
// what callers actually ask (CALIBRATION_SOURCE_RESERVOIR) and for the drift check. Vitter's
// algorithm R, with recency: until the reservoir has seen kWindowFactor times its capacity every
// query is kept with probability capacity / seen (a uniform sample of all so far); after that with
// probability 1 / kWindowFactor, replacing a random slot, so a query stays for about
// kWindowFactor x capacity searches on average and the sample follows the traffic.
// Queries only, never results; full-dim queries only (calibration needs exact full-dim truth).
// Held in memory: not persisted, so never in snapshots, and a restart starts a new sample (a
// reservoir of user queries on disk is data an operator did not ask us to keep).
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <span>
#include <vector>

namespace adanns::server {

inline constexpr uint64_t kWindowFactor = 10;

class QueryReservoir {
 public:
  // `capacity` 0: off (Offer keeps nothing).
  QueryReservoir(size_t capacity, uint32_t dim, uint64_t seed);

  // Offers one query of dim floats (others are ignored). Cheap when the query is not kept: one
  // random draw under the lock.
  void Offer(std::span<const float> query);
  // A copy of the queries held (size() x dim).
  std::vector<float> Queries() const;
  size_t size() const;
  size_t capacity() const { return capacity_; }
  uint64_t seen() const;

 private:
  const size_t capacity_;
  const uint32_t dim_;
  mutable std::mutex mutex_;
  std::vector<float> queries_;  // size() x dim
  uint64_t seen_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace adanns::server
