// Router searches: the full k asked of every shard, each shard's plan ending in an exact re-rank,
// the answers merged by score; an MFLOPs cap split over the shards by their sizes.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/topk.h"
#include "server/router.h"
#include "server/shard_fanout.h"
#include "server/validation.h"

namespace adanns::server {
namespace {

// How long a router reuses the shard sizes it split a cap by: sizes drift slowly, and a stale
// split only moves a little work between shards (the sum still never exceeds the cap).
constexpr auto kSizesFresh = std::chrono::seconds(5);

// Merges the answers of the shards that answered into `out`: hits by score (best first, ties by
// id), costs summed, the plan, estimate and device of the first shard.
void MergeAnswers(const std::vector<const v1::SearchResponse*>& answers, uint32_t k,
                  v1::Metric metric, uint32_t shards_total, v1::SearchResponse* out) {
  std::vector<v1::Hit> hits;
  double mflops = 0;
  uint64_t scanned = 0;
  uint64_t fetched = 0;
  bool capped = false;
  bool target_missed = false;
  for (const v1::SearchResponse* answer : answers) {
    hits.insert(hits.end(), answer->hits().begin(), answer->hits().end());
    mflops += answer->cost().mflops();
    scanned += answer->cost().vectors_scanned();
    fetched += answer->cost().vectors_fetched();
    capped = capped || answer->cost().capped();
    target_missed = target_missed || answer->target_missed();
  }
  const bool lower_is_better = metric == v1::L2;
  // By distance (NaN last), ties by id: the order every shard ranked its own hits in.
  std::sort(hits.begin(), hits.end(), [lower_is_better](const v1::Hit& a, const v1::Hit& b) {
    return index::RanksBefore(lower_is_better ? a.score() : -a.score(), a.id(),
                              lower_is_better ? b.score() : -b.score(), b.id());
  });
  if (hits.size() > k) hits.resize(k);
  out->Clear();
  for (v1::Hit& hit : hits) *out->add_hits() = std::move(hit);
  if (!answers.empty()) {
    *out->mutable_plan() = answers.front()->plan();
    if (answers.front()->has_estimate()) *out->mutable_estimate() = answers.front()->estimate();
    out->set_device(answers.front()->device());
  }
  out->mutable_cost()->set_mflops(mflops);
  out->mutable_cost()->set_vectors_scanned(scanned);
  out->mutable_cost()->set_vectors_fetched(fetched);
  out->mutable_cost()->set_capped(capped);
  out->set_target_missed(target_missed);
  out->set_shards_answered(static_cast<uint32_t>(answers.size()));
  out->set_shards_total(shards_total);
}

// A verdict of any shard on the request is the answer (shards validate alike); shards that could
// not answer fail the search (UNAVAILABLE naming the first) unless `allow_partial` and at least
// one answered. Sets *answered to the shards whose answers are merged.
template <typename Response>
absl::Status Admit(const std::vector<ShardReply<Response>>& replies, const Router::Route& route,
                   bool allow_partial, std::vector<size_t>* answered) {
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].status.ok() && !ShardUnreachable(replies[i].status)) {
      return ShardVerdict(route.node_ids[i], replies[i].status);
    }
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].status.ok()) {
      answered->push_back(i);
    } else if (!allow_partial) {
      return ShardUnavailable(route.record.spec().name(), i, route.node_ids[i], replies[i].status);
    }
  }
  if (answered->empty()) {
    return ShardUnavailable(route.record.spec().name(), 0, route.node_ids[0], replies[0].status);
  }
  return absl::OkStatus();
}

// Each shard's budget: the request's, with a max_mflops cap split in proportion to the shards'
// sizes (evenly while they are unknown or all empty), so that the shards together stay within it.
std::vector<v1::Budget> ShardBudgets(const v1::Budget& budget, const std::vector<uint64_t>& sizes) {
  std::vector<v1::Budget> budgets(sizes.size(), budget);
  if (budget.limit_case() != v1::Budget::kMaxMflops) return budgets;
  uint64_t total = 0;
  for (uint64_t size : sizes) total += size;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const double share = total == 0 ? 1.0 / static_cast<double>(sizes.size())
                                    : static_cast<double>(sizes[i]) / static_cast<double>(total);
    budgets[i].set_max_mflops(budget.max_mflops() * share);
  }
  return budgets;
}

}  // namespace

std::vector<uint64_t> Router::ShardSizes(const std::string& name, const Route& route,
                                         Deadline deadline) {
  {
    std::lock_guard lock(sizes_mutex_);
    const auto cached = sizes_.find(name);
    if (cached != sizes_.end() && cached->second.counts.size() == route.shard_count() &&
        std::chrono::steady_clock::now() - cached->second.at < kSizesFresh) {
      return cached->second.counts;
    }
  }
  v1::CollectionInfo info;
  std::vector<uint64_t> counts(route.shard_count(), 0);
  if (DescribeCollection(name, &info, deadline).ok()) {
    for (const v1::ShardInfo& shard : info.shards()) {
      if (shard.shard() < counts.size()) counts[shard.shard()] = shard.vector_count();
    }
  }
  std::lock_guard lock(sizes_mutex_);
  sizes_[name] = Sizes{counts, std::chrono::steady_clock::now()};
  return counts;
}

std::vector<v1::Budget> Router::ShardBudgetsFor(const std::string& collection,
                                                const v1::Budget& budget, const Route& route,
                                                Deadline deadline) {
  return ShardBudgets(budget, budget.limit_case() == v1::Budget::kMaxMflops
                                  ? ShardSizes(collection, route, deadline)
                                  : std::vector<uint64_t>(route.shard_count(), 0));
}

namespace {

// The search `request` to every shard of `route`, each with its budget; `call(stub, context,
// part, answer, done)` starts one call. The replies, and in *answered the shards to merge.
template <typename ShardRequest, typename Response, typename Request, typename Call>
absl::StatusOr<std::vector<ShardReply<Response>>> SearchEveryShard(
    const Router::Route& route, const Request& request, const std::vector<v1::Budget>& budgets,
    Router::Deadline deadline, Call call, std::vector<size_t>* answered) {
  std::vector<ShardRequest> parts(route.shard_count());
  auto replies =
      FanOut<Response>(route.shard_count(), deadline,
                       [&](size_t i, grpc::ClientContext* context, Response* answer,
                           std::function<void(grpc::Status)> done) {
                         parts[i].set_shard(static_cast<uint32_t>(i));
                         *parts[i].mutable_request() = request;
                         if (request.has_budget())
                           *parts[i].mutable_request()->mutable_budget() = budgets[i];
                         if (route.stubs[i] == nullptr) {
                           done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is not live"));
                           return;
                         }
                         call(*route.stubs[i], context, &parts[i], answer, std::move(done));
                       });
  RETURN_IF_ERROR(Admit(replies, route, request.allow_partial(), answered));
  return replies;
}

}  // namespace

absl::Status Router::Search(const v1::SearchRequest& request, v1::SearchResponse* response,
                            Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection()));
  std::vector<size_t> answered;
  ASSIGN_OR_RETURN(
      const auto replies,
      (SearchEveryShard<v1::ShardSearchRequest, v1::SearchResponse>(
          route, request, ShardBudgetsFor(request.collection(), request.budget(), route, deadline),
          deadline,
          [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
             const v1::ShardSearchRequest* part, v1::SearchResponse* answer,
             std::function<void(grpc::Status)> done) {
            stub.async()->Search(context, part, answer, std::move(done));
          },
          &answered)));
  std::vector<const v1::SearchResponse*> answers;
  for (size_t i : answered) answers.push_back(&replies[i].response);
  MergeAnswers(answers, request.k(), route.record.spec().metric(), route.shard_count(), response);
  return absl::OkStatus();
}

absl::Status Router::SearchBatch(const v1::SearchBatchRequest& request,
                                 v1::SearchBatchResponse* response, Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route, Resolve(request.collection()));
  std::vector<size_t> answered;
  ASSIGN_OR_RETURN(
      const auto replies,
      (SearchEveryShard<v1::ShardSearchBatchRequest, v1::SearchBatchResponse>(
          route, request, ShardBudgetsFor(request.collection(), request.budget(), route, deadline),
          deadline,
          [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
             const v1::ShardSearchBatchRequest* part, v1::SearchBatchResponse* answer,
             std::function<void(grpc::Status)> done) {
            stub.async()->SearchBatch(context, part, answer, std::move(done));
          },
          &answered)));
  const int queries = replies[answered.front()].response.results_size();
  for (size_t i : answered) {
    if (replies[i].response.results_size() != queries) {
      return absl::InternalError(absl::StrCat(
          "shard ", i, " answered ", replies[i].response.results_size(), " queries of ", queries));
    }
  }
  for (int q = 0; q < queries; ++q) {
    std::vector<const v1::SearchResponse*> answers;
    for (size_t i : answered) answers.push_back(&replies[i].response.results(q));
    MergeAnswers(answers, request.k(), route.record.spec().metric(), route.shard_count(),
                 response->add_results());
  }
  return absl::OkStatus();
}

}  // namespace adanns::server
