#include "server/router_reads.h"

#include <algorithm>
#include <cmath>

#include "cluster/shard_map.h"
#include "server/metrics.h"

namespace adanns::server {

size_t SessionCopy(const std::string& session_key, uint32_t shard, size_t copies) {
  return static_cast<size_t>(cluster::IdHash(cluster::Fnv1a64(session_key) ^ shard) % copies);
}

LatencyWindow::LatencyWindow(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {
  samples_.reserve(capacity_);
}

void LatencyWindow::Add(absl::Duration latency) {
  absl::MutexLock lock(&mutex_);
  if (samples_.size() < capacity_) {
    samples_.push_back(latency);
    return;
  }
  samples_[next_] = latency;
  next_ = (next_ + 1) % capacity_;
}

size_t LatencyWindow::size() const {
  absl::MutexLock lock(&mutex_);
  return samples_.size();
}

std::optional<absl::Duration> LatencyWindow::Percentile(double percentile,
                                                        size_t min_samples) const {
  std::vector<absl::Duration> sorted;
  {
    absl::MutexLock lock(&mutex_);
    if (samples_.empty() || samples_.size() < min_samples) return std::nullopt;
    sorted = samples_;
  }
  // Nearest rank: the smallest sample with at least `percentile` % of the samples at or below it.
  const double rank =
      std::ceil(std::clamp(percentile, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size()));
  const size_t at = std::clamp<size_t>(static_cast<size_t>(rank), 1, sorted.size()) - 1;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(at), sorted.end());
  return sorted[at];
}

std::optional<absl::Duration> HedgeDelay(const HedgePolicy& policy, const LatencyWindow& window,
                                         absl::Duration time_left) {
  if (!(policy.percentile > 0)) return std::nullopt;
  const std::optional<absl::Duration> slow =
      window.Percentile(policy.percentile, policy.min_samples);
  if (!slow.has_value()) return std::nullopt;
  const absl::Duration delay = std::max(*slow, policy.floor);
  if (delay >= time_left) return std::nullopt;
  return delay;
}

// --- ReadRace ------------------------------------------------------------------------------------

ReadRace::ReadRace(const std::vector<ShardReadPlan>& plans, ReadClock::time_point now)
    : shards_(plans.size()) {
  for (size_t i = 0; i < plans.size(); ++i) {
    Shard& shard = shards_[i];
    if (!plans[i].ask) {
      shard.winner = 0;  // status OK, nothing asked
      continue;
    }
    shard.has_backup = plans[i].backup != nullptr;
    shard.hedge_at = plans[i].hedge_at;
    shard.calls[0].started = true;
    shard.calls[0].began = now;
  }
}

void ReadRace::Finished(size_t shard, int copy, grpc::Status status, ReadClock::time_point now) {
  Call& call = shards_[shard].calls[copy];
  call.finished = true;
  call.status = std::move(status);
  call.ended = now;
}

void ReadRace::Settle(size_t index, int winner, Actions* actions) {
  Shard& shard = shards_[index];
  shard.winner = winner;
  Call& other = shard.calls[1 - winner];
  if (other.started && !other.finished && !other.cancelled) {
    other.cancelled = true;
    actions->cancel.emplace_back(index, 1 - winner);
  }
}

ReadRace::Actions ReadRace::Next(ReadClock::time_point now) {
  Actions actions;
  for (size_t i = 0; i < shards_.size(); ++i) {
    Shard& shard = shards_[i];
    if (shard.winner >= 0) continue;
    Call& first = shard.calls[0];
    Call& backup = shard.calls[1];
    auto answered = [](const Call& call) {
      return call.finished && (call.status.ok() || !ShardUnreachable(call.status));
    };
    if (answered(first)) {
      Settle(i, 0, &actions);
    } else if (answered(backup)) {
      Settle(i, 1, &actions);
    } else if (first.finished) {  // could not answer
      if (!backup.started && shard.has_backup) {
        backup.started = true;
        backup.began = now;
        actions.ask_backup.push_back(i);
      } else if (!backup.started) {
        Settle(i, 0, &actions);
      } else if (backup.finished) {
        Settle(i, 1, &actions);  // neither could: the later failure speaks
      }
    } else if (!backup.started && shard.has_backup && shard.hedge_at.has_value() &&
               now >= *shard.hedge_at) {
      backup.started = true;
      backup.began = now;
      shard.hedged = true;
      actions.ask_backup.push_back(i);
    }
  }
  return actions;
}

bool ReadRace::Done() const {
  for (const Shard& shard : shards_) {
    if (shard.winner < 0) return false;
    for (const Call& call : shard.calls) {
      if (call.started && !call.finished) return false;
    }
  }
  return true;
}

std::optional<ReadClock::time_point> ReadRace::NextHedge() const {
  std::optional<ReadClock::time_point> next;
  for (const Shard& shard : shards_) {
    if (shard.winner >= 0 || shard.calls[1].started || !shard.has_backup ||
        !shard.hedge_at.has_value()) {
      continue;
    }
    if (!next.has_value() || *shard.hedge_at < *next) next = shard.hedge_at;
  }
  return next;
}

const grpc::Status& ReadRace::Status(size_t shard) const {
  return shards_[shard].calls[shards_[shard].winner].status;
}

std::vector<ShardRead> ReadRace::Reads() const {
  std::vector<ShardRead> reads(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    const Shard& shard = shards_[i];
    if (shard.winner < 0 || !shard.calls[0].started) continue;
    const Call& won = shard.calls[shard.winner];
    const bool ok = won.finished && won.status.ok();
    if (ok) reads[i].latency = absl::FromChrono(won.ended - won.began);
    if (!shard.calls[1].started) continue;
    if (!shard.hedged) {
      reads[i].backup = Backup::kRetried;
    } else if (!ok) {
      reads[i].backup = Backup::kHedgeLost;
    } else {
      reads[i].backup = shard.winner == 1 ? Backup::kHedgeWon : Backup::kFirstWon;
    }
  }
  return reads;
}

// --- ShardReads ----------------------------------------------------------------------------------

std::shared_ptr<LatencyWindow> ShardReads::WindowOf(const WindowKey& key) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<LatencyWindow>& window = windows_[key];
  if (window == nullptr) window = std::make_shared<LatencyWindow>();
  return window;
}

void ShardReads::SetHedgeTimes(const std::string& collection, const std::string& kind,
                               std::chrono::system_clock::time_point deadline,
                               std::vector<ShardReadPlan>* plans) {
  if (!(policy_.percentile > 0)) return;
  const ReadClock::time_point now = ReadClock::now();
  const absl::Duration time_left = absl::FromChrono(deadline - std::chrono::system_clock::now());
  for (size_t shard = 0; shard < plans->size(); ++shard) {
    ShardReadPlan& plan = (*plans)[shard];
    if (!plan.ask || plan.backup == nullptr) continue;
    if (const auto delay = HedgeDelay(policy_, *WindowOf({collection, kind, shard}), time_left)) {
      plan.hedge_at = now + absl::ToChronoNanoseconds(*delay);
    }
  }
}

void ShardReads::Learn(const std::string& collection, const std::string& kind, bool hedge,
                       const std::vector<ShardRead>& reads) {
  for (size_t shard = 0; shard < reads.size(); ++shard) {
    const ShardRead& read = reads[shard];
    if (hedge && read.latency.has_value()) WindowOf({collection, kind, shard})->Add(*read.latency);
    if (metrics_ == nullptr) continue;
    switch (read.backup) {
      case Backup::kNone:
        break;
      case Backup::kRetried:
        metrics_->RecordRouterRetry(read.latency.has_value() ? "answered" : "failed");
        break;
      case Backup::kHedgeWon:
        metrics_->RecordRouterHedge("hedge_won");
        break;
      case Backup::kFirstWon:
        metrics_->RecordRouterHedge("first_won");
        break;
      case Backup::kHedgeLost:
        metrics_->RecordRouterHedge("failed");
        break;
    }
  }
}

}  // namespace adanns::server
