#include "server/query_reservoir.h"

#include <algorithm>

namespace adanns::server {

QueryReservoir::QueryReservoir(size_t capacity, uint32_t dim, uint64_t seed)
    : capacity_(capacity), dim_(dim), rng_(seed) {}

void QueryReservoir::Offer(std::span<const float> query) {
  if (capacity_ == 0 || query.size() != dim_) return;
  std::lock_guard lock(mutex_);
  ++seen_;
  if (queries_.size() < capacity_ * dim_) {
    queries_.insert(queries_.end(), query.begin(), query.end());
    return;
  }
  // Kept with probability capacity / min(seen, kWindowFactor x capacity).
  const uint64_t window = std::min<uint64_t>(seen_, kWindowFactor * capacity_);
  const uint64_t draw = rng_() % window;
  if (draw >= capacity_) return;
  std::copy(query.begin(), query.end(), queries_.begin() + draw * dim_);
}

std::vector<float> QueryReservoir::Queries() const {
  std::lock_guard lock(mutex_);
  return queries_;
}

size_t QueryReservoir::size() const {
  std::lock_guard lock(mutex_);
  return queries_.size() / dim_;
}

uint64_t QueryReservoir::seen() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

}  // namespace adanns::server
