// The merged calibration of a sharded collection (MergedCalibrationRecord in cluster.proto): what
// per-shard target_recall makes the merged answer reach a request's target.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/calibration.h"
#include "index/reference_distance.h"
#include "server/router.h"
#include "server/shard_fanout.h"
#include "server/thread_priority.h"
#include "server/validation.h"
#include "spdlog/spdlog.h"

namespace adanns::server {
namespace {

// The per-shard targets measured. Dense near the top, where merged recall moves fastest with cost.
constexpr double kShardTargets[] = {0.5,  0.7,  0.8,  0.85, 0.9,   0.93,
                                    0.95, 0.97, 0.98, 0.99, 0.995, 1.0};
// Defaults of CalibrateRequest, as on a data node.
constexpr uint32_t kDefaultQueries = 200;
constexpr uint64_t kDefaultSeed = 1234;
constexpr uint32_t kDefaultKs[] = {1, 10, 100};
// Extra hits asked for with sampled queries, so that a query's own row and up to 8 stored twins
// (as a data node's calibration allows) can be left out of its truth and results and k remain.
constexpr uint32_t kSelfMargin = 9;
// Deadline of one of the calibration's own calls: an exact scan of every shard for a batch of
// queries may take long on a large collection, and nobody waits on it.
constexpr auto kCalibrationCallDeadline = std::chrono::minutes(10);
// Query bytes per calibration batch, well inside the default 64 MiB message limit.
constexpr size_t kBatchQueryBytes = 16 << 20;
// How long the merged calibration waits for the shards' own calibrations.
constexpr auto kShardsCalibratedWithin = std::chrono::minutes(30);

// Whether a hit of exact full-dim `score` is a stored twin of the query of squared norm
// `query_norm`: L2 scores are squared distances; a cosine similarity c means a squared distance of
// 2 - 2c between the normalised vectors (index::IsTwin compares the raw vectors, so a scaled copy
// counts here and not there). Inner products do not tell a twin apart: only the query's own id is
// then left out.
bool IsTwinByScore(v1::Metric metric, float score, double query_norm) {
  switch (metric) {
    case v1::L2:
      return score <= index::kTwinRelativeSquaredDifference * query_norm;
    case v1::COSINE:
      return 2.0 - 2.0 * score <= index::kTwinRelativeSquaredDifference;
    default:
      return false;
  }
}

// The measured queries: n x dim floats, and for sampled ones the id each was drawn from.
struct MergedQueries {
  std::vector<float> values;
  std::vector<uint64_t> self_ids;  // empty for given queries
  size_t count = 0;
};

// Mean and standard error of per-query recalls; one query gets the largest standard deviation a
// recall can have (0.5), so that it never claims a target on its own.
std::pair<double, double> MeanAndStderr(const std::vector<double>& values) {
  const double n = static_cast<double>(values.size());
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(squares / (n - 1)) : 0.5;
  return {mean, sd / std::sqrt(n)};
}

std::chrono::system_clock::time_point CalibrationDeadline() {
  return std::chrono::system_clock::now() + kCalibrationCallDeadline;
}

}  // namespace

struct Router::MergedJob {
  int64_t collection_revision = 0;  // the incarnation of the collection it measures
  std::atomic<bool> cancelled{false};
  std::atomic<bool> finished{false};
  std::thread thread;
  mutable std::mutex mutex;
  std::string state = "calibrating";  // guarded by mutex: then "ready", "failed", "cancelled"
  std::string error;                  // guarded by mutex
  double progress = 0;                // guarded by mutex
};

void Router::StartMergedCalibration(const v1::CalibrateRequest& request, const Route& route) {
  // Finished retired jobs are joined here (at once: their threads have returned).
  std::vector<std::shared_ptr<MergedJob>> done;
  {
    std::lock_guard lock(jobs_mutex_);
    auto finished = std::partition(retired_.begin(), retired_.end(),
                                   [](const auto& job) { return !job->finished; });
    done.assign(finished, retired_.end());
    retired_.erase(finished, retired_.end());
  }
  for (const auto& job : done) job->thread.join();

  auto job = std::make_shared<MergedJob>();
  job->collection_revision = route.created_revision;
  // Started before the job is shared, so that nobody sees it without its thread.
  job->thread = std::thread([this, job, request] {
    NameThisThread("adanns-rcalib");
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<v1::MergedCalibrationRecord> record = MeasureMerged(request, *job);
    absl::Status status = record.status();
    if (status.ok() && job->cancelled) status = absl::CancelledError("replaced or dropped");
    if (status.ok()) {
      record->set_seconds(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      record->set_collection_revision(job->collection_revision);
      absl::StatusOr<int64_t> revision =
          etcd_->Put(keys_.Calibration(request.collection()), record->SerializeAsString());
      status = revision.status();
      // "ready" once this router's searches see it (its watch has the write).
      if (revision.ok()) status = calibrations_->AwaitRevision(*revision, absl::Seconds(10));
    }
    {
      std::lock_guard lock(job->mutex);
      if (job->cancelled) {
        job->state = "cancelled";
      } else if (status.ok()) {
        job->state = "ready";
        job->progress = 1;
        spdlog::info("merged calibration of {}: ready ({} queries, {:.1f} s)", request.collection(),
                     record->queries(), record->seconds());
      } else {
        job->state = "failed";
        job->error = std::string(status.message());
        spdlog::warn("merged calibration of {} failed: {}", request.collection(), job->error);
      }
    }
    job->finished = true;
  });
  std::lock_guard lock(jobs_mutex_);
  std::shared_ptr<MergedJob>& slot = jobs_[request.collection()];
  if (slot != nullptr) {
    slot->cancelled = true;
    retired_.push_back(std::move(slot));
  }
  slot = std::move(job);
}

void Router::CancelMergedCalibration(const std::string& name) {
  std::lock_guard lock(jobs_mutex_);
  const auto found = jobs_.find(name);
  if (found == jobs_.end()) return;
  found->second->cancelled = true;
  retired_.push_back(std::move(found->second));
  jobs_.erase(found);
}

void Router::CancelAllMergedCalibrations() {
  std::vector<std::shared_ptr<MergedJob>> all;
  {
    std::lock_guard lock(jobs_mutex_);
    for (auto& [name, job] : jobs_) all.push_back(std::move(job));
    jobs_.clear();
    for (auto& job : retired_) all.push_back(std::move(job));
    retired_.clear();
  }
  for (const auto& job : all) job->cancelled = true;  // all stop together, then are joined
  for (const auto& job : all) job->thread.join();
}

void Router::ShowMergedCalibration(const Route& route, v1::CalibrationInfo* info) const {
  std::shared_ptr<MergedJob> job;
  {
    std::lock_guard lock(jobs_mutex_);
    const auto found = jobs_.find(route.record.spec().name());
    if (found != jobs_.end() && found->second->collection_revision == route.created_revision) {
      job = found->second;
    }
  }
  if (job != nullptr) {
    std::lock_guard lock(job->mutex);
    if (job->state == "calibrating" || job->state == "failed") {
      // The shards' frontiers are not what target_recall searches use until the merged one is in.
      info->set_state(job->state);
      info->set_progress(job->progress);
      info->set_error(job->error);
      return;
    }
  }
  if (MergedCalibrationOf(route).has_value()) info->set_source(info->source() + "+merged");
}

std::optional<v1::MergedCalibrationRecord> Router::MergedCalibrationOf(const Route& route) const {
  const std::string key = keys_.Calibration(route.record.spec().name());
  std::optional<cluster::EtcdKeyValue> found;
  if (calibrations_->AwaitSynced(absl::ZeroDuration()).ok()) {
    found = calibrations_->Find(key);
  } else if (absl::StatusOr<std::optional<cluster::EtcdKeyValue>> read = etcd_->Get(key);
             read.ok()) {
    found = *std::move(read);  // the watch has not listed etcd yet (router start-up)
  }
  v1::MergedCalibrationRecord record;
  if (!found.has_value() || !record.ParseFromString(found->value) ||
      record.collection_revision() != route.created_revision) {
    return std::nullopt;
  }
  return record;
}

std::optional<Router::MergedTarget> Router::MergedTargetFor(const Route& route, uint32_t k,
                                                            double target) const {
  const std::optional<v1::MergedCalibrationRecord> record = MergedCalibrationOf(route);
  if (!record.has_value() || record->curves_size() == 0) return std::nullopt;
  // The nearest calibrated k at or above the request's, else the largest (as the planner does).
  const v1::MergedCalibrationRecord::Curve* curve = &record->curves(record->curves_size() - 1);
  for (const auto& candidate : record->curves()) {
    if (candidate.k() >= k) {
      curve = &candidate;
      break;
    }
  }
  const v1::MergedCalibrationRecord::Point* chosen = nullptr;
  const v1::MergedCalibrationRecord::Point* best = nullptr;
  auto lower_bound = [](const v1::MergedCalibrationRecord::Point& p) {
    return p.recall() - index::kRecallConfidenceZ * p.recall_stderr();
  };
  for (const auto& point : curve->points()) {
    if (lower_bound(point) >= target && (chosen == nullptr || point.mflops() < chosen->mflops())) {
      chosen = &point;
    }
    if (best == nullptr || lower_bound(point) > lower_bound(*best)) best = &point;
  }
  if (best == nullptr) return std::nullopt;
  const v1::MergedCalibrationRecord::Point& point = chosen != nullptr ? *chosen : *best;
  MergedTarget merged;
  merged.shard_target = point.shard_target();
  merged.met = chosen != nullptr;
  merged.estimate.set_recall(point.recall());
  merged.estimate.set_k(curve->k());
  merged.estimate.set_mflops(point.mflops());
  merged.estimate.set_recall_lower_bound(lower_bound(point));
  merged.estimate.set_queries(record->queries());
  return merged;
}

absl::Status Router::AwaitShardCalibrations(const std::string& name, const MergedJob& job) {
  const auto give_up = std::chrono::steady_clock::now() + kShardsCalibratedWithin;
  std::string waiting_for;
  while (std::chrono::steady_clock::now() < give_up) {
    if (job.cancelled) return absl::CancelledError("merged calibration cancelled");
    ASSIGN_OR_RETURN(const Route route, Resolve(name));
    const auto replies = ToEveryShardByName<v1::CollectionInfo>(
        route, name, CalibrationDeadline(),
        [](v1::ShardService::Stub& stub, grpc::ClientContext* context, const v1::ShardRequest* part,
           v1::CollectionInfo* info, std::function<void(grpc::Status)> done) {
          stub.async()->DescribeShard(context, part, info, std::move(done));
        });
    waiting_for.clear();
    for (size_t i = 0; i < replies.size(); ++i) {
      const v1::CalibrationInfo& calibration = replies[i].response.calibration();
      if (!replies[i].status.ok()) {
        waiting_for = absl::StrCat("shard ", i, ": ", replies[i].status.error_message());
      } else if (calibration.state() == "failed" || calibration.state() == "cancelled") {
        return absl::FailedPreconditionError(absl::StrCat(
            "shard ", i, "'s calibration ", calibration.state(), ": ", calibration.error()));
      } else if (calibration.state() != "ready") {
        waiting_for = absl::StrCat("shard ", i, " (", calibration.state(), ")");
      }
    }
    if (waiting_for.empty()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the shards' calibrations did not finish in time; waiting for ", waiting_for));
}

namespace {

// The queries of a merged calibration: the request's vectors, else stored vectors sampled from
// every shard in proportion to its size (at most as many as fit kBatchQueryBytes).
template <typename Sample>
absl::StatusOr<MergedQueries> QueriesFor(const v1::CalibrateRequest& request, uint32_t dim,
                                         const std::vector<uint64_t>& sizes, Sample sample) {
  MergedQueries queries;
  if (request.query_vectors_size() > 0) {
    queries.values.assign(request.query_vectors().begin(), request.query_vectors().end());
    queries.count = queries.values.size() / dim;
    return queries;
  }
  const uint64_t fits = std::max<uint64_t>(1, kBatchQueryBytes / (sizeof(float) * dim));
  const uint64_t wanted =
      std::min<uint64_t>(request.queries() == 0 ? kDefaultQueries : request.queries(), fits);
  const uint64_t total = std::accumulate(sizes.begin(), sizes.end(), uint64_t{0});
  if (total == 0) return absl::FailedPreconditionError("the collection holds no vectors");
  // Largest remainders: the counts add up to `wanted` (or every vector, when fewer).
  std::vector<uint64_t> counts(sizes.size());
  std::vector<std::pair<uint64_t, size_t>> remainders;
  uint64_t given = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    counts[i] = std::min(sizes[i], wanted * sizes[i] / total);
    given += counts[i];
    remainders.emplace_back(wanted * sizes[i] % total, i);
  }
  std::sort(remainders.rbegin(), remainders.rend());
  for (const auto& [remainder, i] : remainders) {
    if (given >= wanted) break;
    if (counts[i] < sizes[i]) {
      ++counts[i];
      ++given;
    }
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (counts[i] == 0) continue;
    ASSIGN_OR_RETURN(const v1::GetResponse drawn, sample(i, static_cast<uint32_t>(counts[i])));
    for (const v1::Vector& vector : drawn.vectors()) {
      queries.values.insert(queries.values.end(), vector.values().begin(), vector.values().end());
      queries.self_ids.push_back(vector.id());
    }
  }
  queries.count = queries.self_ids.size();
  return queries;
}

// A plan the merged calibration cannot measure at a per-shard target: a cap refused or stopped
// it (the target is left off the curve rather than measured short).
bool OverACap(const absl::Status& status) {
  return absl::IsResourceExhausted(status) || absl::IsOutOfRange(status);
}

}  // namespace

absl::StatusOr<v1::MergedCalibrationRecord> Router::MeasureMerged(
    const v1::CalibrateRequest& request, MergedJob& job) {
  const std::string& name = request.collection();
  RETURN_IF_ERROR(AwaitShardCalibrations(name, job));
  ASSIGN_OR_RETURN(const Route route, Resolve(name));
  if (route.created_revision != job.collection_revision) {
    return absl::CancelledError("the collection was dropped and created again");
  }
  const v1::CreateCollectionRequest& spec = route.record.spec();
  const uint32_t dim = spec.dim();
  const std::vector<uint64_t> sizes = ShardSizes(name, route, CalibrationDeadline());
  const uint64_t total = std::accumulate(sizes.begin(), sizes.end(), uint64_t{0});
  ASSIGN_OR_RETURN(
      const MergedQueries queries,
      QueriesFor(request, dim, sizes,
                 [&](size_t shard, uint32_t count) -> absl::StatusOr<v1::GetResponse> {
                   v1::ShardSampleRequest sample;
                   sample.set_collection(name);
                   sample.set_shard(static_cast<uint32_t>(shard));
                   sample.set_count(count);
                   sample.set_seed((request.seed() == 0 ? kDefaultSeed : request.seed()) + shard);
                   if (route.stubs[shard] == nullptr) {
                     return absl::UnavailableError(absl::StrCat("shard ", shard, " is not live"));
                   }
                   grpc::ClientContext context;
                   context.set_deadline(CalibrationDeadline());
                   v1::GetResponse drawn;
                   const grpc::Status status =
                       route.stubs[shard]->SampleVectors(&context, sample, &drawn);
                   if (!status.ok()) return ShardVerdict(route.node_ids[shard], status);
                   return drawn;
                 }));
  if (queries.count == 0) return absl::FailedPreconditionError("no calibration queries");
  std::vector<uint32_t> ks(request.ks().begin(), request.ks().end());
  if (ks.empty()) {
    for (uint32_t k : kDefaultKs) {
      if (k < total) ks.push_back(k);
    }
  }
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  if (ks.empty()) return absl::FailedPreconditionError("the collection is too small to calibrate");
  const bool sampled = !queries.self_ids.empty();
  const uint32_t margin = sampled ? kSelfMargin : 0;

  // Per query, the ids left out of its truth and results: itself and its stored twins (judged on
  // the exact truth's full-dim scores), for sampled queries.
  std::vector<std::set<uint64_t>> left_out(queries.count);
  // Runs every query with `budget` at k (+ margin); per query, its hits' ids (the left-out ones
  // dropped, at most k), the mean MFLOPs in *mflops, and whether a cap stopped any in *capped.
  // The truth run (`truth`) decides what is left out.
  auto run = [&](const v1::Budget& budget, uint32_t k, bool truth, double* mflops,
                 bool* capped) -> absl::StatusOr<std::vector<std::vector<uint64_t>>> {
    std::vector<std::vector<uint64_t>> kept(queries.count);
    const size_t per_batch =
        std::max<size_t>(1, std::min({kMaxBatchHits / (k + margin), kMaxBatchQueries,
                                      kBatchQueryBytes / (sizeof(float) * dim)}));
    double cost = 0;
    *capped = false;
    for (size_t begin = 0; begin < queries.count; begin += per_batch) {
      if (job.cancelled) return absl::CancelledError("merged calibration cancelled");
      const size_t end = std::min(queries.count, begin + per_batch);
      v1::SearchBatchRequest batch;
      batch.set_collection(name);
      batch.set_query_dims(dim);
      batch.mutable_queries()->Add(queries.values.begin() + begin * dim,
                                   queries.values.begin() + end * dim);
      batch.set_k(k + margin);
      *batch.mutable_budget() = budget;
      v1::SearchBatchResponse answer;
      RETURN_IF_ERROR(SearchBatchAt(batch, &answer, CalibrationDeadline(), true));
      for (size_t q = begin; q < end; ++q) {
        const v1::SearchResponse& result = answer.results(static_cast<int>(q - begin));
        cost += result.cost().mflops();
        *capped = *capped || result.cost().capped();
        const float* query = queries.values.data() + q * dim;
        const double norm = std::inner_product(query, query + dim, query, 0.0);
        for (const v1::Hit& hit : result.hits()) {
          if (kept[q].size() == k) break;
          if (truth && sampled &&
              (hit.id() == queries.self_ids[q] ||
               IsTwinByScore(spec.metric(), hit.score(), norm))) {
            left_out[q].insert(hit.id());
          }
          if (!left_out[q].count(hit.id())) kept[q].push_back(hit.id());
        }
      }
    }
    *mflops = cost / static_cast<double>(queries.count);
    return kept;
  };

  v1::Budget exact;
  exact.mutable_plan()->set_index("flat");
  double unused = 0;
  bool capped = false;
  ASSIGN_OR_RETURN(const auto truth, run(exact, ks.back(), true, &unused, &capped));
  if (capped) {
    return absl::FailedPreconditionError(
        "the exact ground truth scan was stopped by a data node's --max_query_mflops; calibrate "
        "with query_vectors on a node without that cap");
  }
  v1::MergedCalibrationRecord record;
  record.set_queries(static_cast<uint32_t>(queries.count));
  record.set_source(sampled ? "self" : "given");
  record.set_measured_unix_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  const size_t steps = ks.size() * std::size(kShardTargets);
  size_t done = 0;
  for (uint32_t k : ks) {
    v1::MergedCalibrationRecord::Curve* curve = record.add_curves();
    curve->set_k(k);
    for (double shard_target : kShardTargets) {
      {
        std::lock_guard lock(job.mutex);
        job.progress = static_cast<double>(done++) / static_cast<double>(steps);
      }
      v1::Budget budget;
      budget.set_target_recall(static_cast<float>(shard_target));
      double mflops = 0;
      absl::StatusOr<std::vector<std::vector<uint64_t>>> found =
          run(budget, k, false, &mflops, &capped);
      if ((!found.ok() && OverACap(found.status())) || (found.ok() && capped)) continue;
      RETURN_IF_ERROR(found.status());
      std::vector<double> recalls;
      for (size_t q = 0; q < queries.count; ++q) {
        const size_t relevant = std::min<size_t>(k, truth[q].size());
        if (relevant == 0) continue;  // nothing to find: no evidence either way
        const std::set<uint64_t> wanted(truth[q].begin(), truth[q].begin() + relevant);
        size_t hits = 0;
        for (uint64_t id : (*found)[q]) hits += wanted.count(id);
        recalls.push_back(static_cast<double>(hits) / static_cast<double>(relevant));
      }
      if (recalls.empty()) continue;
      const auto [mean, stderr_] = MeanAndStderr(recalls);
      v1::MergedCalibrationRecord::Point* point = curve->add_points();
      point->set_shard_target(shard_target);
      point->set_recall(mean);
      point->set_recall_stderr(stderr_);
      point->set_mflops(mflops);
    }
  }
  return record;
}

}  // namespace adanns::server
