// The online check of the budgets' promises: a small fraction of live searches is re-run exactly
// in the background and the recall they got is exported (adanns_budget_observed_recall per plan
// index, the mean of its last kRecallWindow checks; adanns_budget_target_misses_total for checked
// searches with a target_recall whose recall fell below it), so an operator sees whether the
// calibration still holds on real traffic. Never on a request's critical path: sampling is one
// random draw, a sampled query is copied into a bounded queue (full: skipped and counted), and
// one worker thread at the lowest CPU priority (nice 19) runs the exact searches, busy at most
// kRecallCheckDutyCycle of the time.
// Recall here is id recall@k against exact search at the query's own prefix.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/collection.h"
#include "server/duty_cycle.h"
#include "server/metrics.h"

namespace adanns::server {

inline constexpr size_t kRecallWindow = 200;
// The most of one core the exact checks take (see RecallChecker::Loop).
inline constexpr double kRecallCheckDutyCycle = 0.05;

class RecallChecker {
 public:
  // `fraction` of searched queries is checked (0 = none); at most `queue` wait at a time.
  RecallChecker(double fraction, size_t queue, Metrics* metrics, uint64_t seed = 0x7ec4);
  ~RecallChecker();

  // After a search answered: samples its queries and queues the sampled ones with their hits.
  void Offer(const std::shared_ptr<Collection>& collection, std::span<const float> queries,
             uint32_t query_dims, uint32_t k, const index::Budget& budget,
             const SearchOutcome& outcome);
  // Test hooks: waits (bounded by `timeout`) until the queue is empty and no check runs; what the
  // checks found so far (the mean over the window of one collection's plan index, or nullopt).
  bool Drain(std::chrono::milliseconds timeout);
  uint64_t checked() const;
  uint64_t target_misses() const;
  uint64_t skipped() const;
  std::optional<double> ObservedRecall(const std::string& collection,
                                       const std::string& index) const;

 private:
  struct Job {
    std::weak_ptr<Collection> collection;
    std::vector<float> query;
    uint32_t k = 0;
    std::string index;  // the plan's index
    std::vector<uint64_t> served;
    std::optional<float> target;
  };
  void Loop();
  void Check(const Job& job);

  const double fraction_;
  const size_t capacity_;
  Metrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  uint64_t checked_ = 0;
  uint64_t target_misses_ = 0;
  uint64_t skipped_ = 0;
  std::mt19937_64 rng_;  // guarded by mutex_
  // Each check's wall time x 19 of pause after it (kRecallCheckDutyCycle): ended by the destructor.
  DutyCycle pacing_{kRecallCheckDutyCycle, DutyCycle::Clock::kWall};
  // Recent recalls per "collection/index" (the gauge's window); guarded by mutex_.
  absl::flat_hash_map<std::string, std::deque<double>> windows_;
  std::thread worker_;
};

}  // namespace adanns::server
