#include "server/recall_checker.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "server/thread_priority.h"
#include "spdlog/spdlog.h"

namespace adanns::server {

RecallChecker::RecallChecker(double fraction, size_t queue, Metrics* metrics, uint64_t seed)
    : fraction_(fraction), capacity_(queue), metrics_(metrics), rng_(seed) {
  if (fraction_ > 0) worker_ = std::thread(&RecallChecker::Loop, this);
}

RecallChecker::~RecallChecker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  pacing_.Interrupt();
  if (worker_.joinable()) worker_.join();
}

void RecallChecker::Offer(const std::shared_ptr<Collection>& collection,
                          std::span<const float> queries, uint32_t query_dims, uint32_t k,
                          const index::Budget& budget, const SearchOutcome& outcome) {
  if (fraction_ <= 0 || query_dims == 0) return;
  bool queued = false;
  for (size_t q = 0; q < outcome.results.size(); ++q) {
    std::unique_lock lock(mutex_);
    if (std::uniform_real_distribution<double>(0, 1)(rng_) >= fraction_) continue;
    if (queue_.size() >= capacity_) {
      ++skipped_;
      lock.unlock();
      metrics_->RecordRecallCheckSkipped(collection->metrics_label());
      continue;
    }
    const index::SearchResult& result = outcome.results[q];
    Job job;
    job.collection = collection;
    job.query.assign(queries.begin() + q * query_dims, queries.begin() + (q + 1) * query_dims);
    job.k = k;
    job.index = result.plan.index;
    for (const index::Hit& hit : result.hits) job.served.push_back(hit.id);
    job.target = budget.target_recall;
    queue_.push_back(std::move(job));
    queued = true;
  }
  if (queued) wake_.notify_one();
}

void RecallChecker::Loop() {
  NameThisThread("adanns-recall");
  // The lowest nice value: the checks use what the searches leave. Not SCHED_IDLE: every search
  // takes mutex_ to offer its result, and an idle-class thread preempted while holding it keeps
  // the searches waiting until a core is idle (with the absorber in SCHED_IDLE a search waited
  // 88.8 ms in one of three mixed-load runs; bench/results/write-path-mixed-sched-idle.txt).
  LowerThisThreadPriority(19);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    idle_.notify_all();
    // An exact scan streams the whole table through the caches, and searches running beside
    // it slow down whatever its priority. Each check is followed by a pause that keeps the
    // checks within kRecallCheckDutyCycle of one core (measured: idle search p99 down by a
    // quarter); sampled queries that find the queue full meanwhile are skipped and counted.
    pacing_.Pause();
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    pacing_.BeginPiece();
    Check(job);
    pacing_.EndPiece();
  }
}

void RecallChecker::Check(const Job& job) {
  const std::shared_ptr<Collection> collection = job.collection.lock();
  if (collection == nullptr) return;  // dropped meanwhile
  // A tiered collection keeps no full vectors in memory: exact search would read every one of
  // them from storage for each check, so its served recall is not checked online.
  if (collection->resident_dims() < collection->meta().dim) return;
  // The exact truth in short holds (Collection::ExactNearestIds): this thread runs at the lowest
  // priority, and one scan of the whole table under a single shared hold, preempted, kept a
  // waiting writer and every search queued behind it waiting (up to 95 ms measured under a write
  // stream).
  const absl::StatusOr<std::vector<uint64_t>> nearest =
      collection->ExactNearestIds(job.query, job.k);
  if (!nearest.ok()) {
    spdlog::warn("collection {}: recall check failed: {}", collection->meta().name,
                 nearest.status().ToString());
    return;
  }
  const size_t depth = std::min<size_t>(job.k, nearest->size());
  if (depth == 0) return;
  size_t found = 0;
  for (const uint64_t id : job.served) {
    found += std::find(nearest->begin(), nearest->begin() + static_cast<std::ptrdiff_t>(depth),
                       id) != nearest->begin() + static_cast<std::ptrdiff_t>(depth);
  }
  const double recall = double(found) / double(depth);
  const bool missed = job.target.has_value() && recall < *job.target;
  double mean = 0;
  {
    std::lock_guard lock(mutex_);
    std::deque<double>& window = windows_[absl::StrCat(collection->meta().name, "/", job.index)];
    window.push_back(recall);
    if (window.size() > kRecallWindow) window.pop_front();
    mean = std::accumulate(window.begin(), window.end(), 0.0) / double(window.size());
    ++checked_;
    target_misses_ += missed;
  }
  metrics_->RecordRecallCheck(collection->metrics_label(), job.index, mean, missed);
}

bool RecallChecker::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

uint64_t RecallChecker::checked() const {
  std::lock_guard lock(mutex_);
  return checked_;
}

uint64_t RecallChecker::skipped() const {
  std::lock_guard lock(mutex_);
  return skipped_;
}

uint64_t RecallChecker::target_misses() const {
  std::lock_guard lock(mutex_);
  return target_misses_;
}

std::optional<double> RecallChecker::ObservedRecall(const std::string& collection,
                                                    const std::string& index) const {
  std::lock_guard lock(mutex_);
  const auto it = windows_.find(absl::StrCat(collection, "/", index));
  if (it == windows_.end() || it->second.empty()) return std::nullopt;
  return std::accumulate(it->second.begin(), it->second.end(), 0.0) / double(it->second.size());
}

}  // namespace adanns::server
