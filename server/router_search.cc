// Router searches: the full k asked of every shard, each shard's plan ending in an exact re-rank,
// the answers merged by score; an MFLOPs cap split over the shards by their sizes.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "index/topk.h"
#include "server/router.h"
#include "server/shard_fanout.h"
#include "server/validation.h"

namespace adanns::server {
namespace {

// How long a router reuses the shard sizes it split a cap by: sizes drift slowly, and a stale
// split only moves a little work between shards (the sum still never exceeds the cap).
constexpr auto kSizesFresh = std::chrono::seconds(5);

// One shard's answer to a query.
struct ShardAnswer {
  uint32_t shard;
  const v1::SearchResponse* response;
};

// Merges the answers of the shards that answered into `out`: hits by score (best first, ties by
// id), costs summed, the plan, estimate and device of the first shard, and the plans of the
// others where they differ.
void MergeAnswers(const std::vector<ShardAnswer>& shard_answers, uint32_t k, v1::Metric metric,
                  uint32_t shards_total, v1::SearchResponse* out) {
  std::vector<const v1::SearchResponse*> answers;
  answers.reserve(shard_answers.size());
  for (const ShardAnswer& answer : shard_answers) answers.push_back(answer.response);
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
    for (const ShardAnswer& answer : shard_answers) {
      if (!google::protobuf::util::MessageDifferencer::Equals(answer.response->plan(),
                                                              out->plan())) {
        v1::ShardPlan* differs = out->add_shard_plans();
        differs->set_shard(answer.shard);
        *differs->mutable_plan() = answer.response->plan();
      }
    }
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

// Each shard's fraction of the collection: its size over the total (evenly while the sizes are
// unknown or all zero). MFLOPs caps are split by these, so the shards together stay within them.
std::vector<double> SizeFractions(const std::vector<uint64_t>& sizes) {
  uint64_t total = 0;
  for (uint64_t size : sizes) total += size;
  std::vector<double> fractions(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    fractions[i] = total == 0 ? 1.0 / static_cast<double>(sizes.size())
                              : static_cast<double>(sizes[i]) / static_cast<double>(total);
  }
  return fractions;
}

// A shard's part of a cap: rounded down, so that the parts never add up to more than the cap,
// and never 0, which would mean "no cap" (a shard empty when the sizes were read may have rows
// by now; with a tiny share it refuses, or with clamping scans little, rather than run uncapped).
double ShareOf(double cap, double fraction) {
  constexpr double kLeast = 1e-12;  // MFLOPs: not one multiply-add
  return std::max(kLeast, std::nextafter(cap * fraction, 0.0));
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
  if (!DescribeCollection(name, &info, deadline).ok()) return counts;  // not cached: ask again
  for (const v1::ShardInfo& shard : info.shards()) {
    if (shard.state() != "serving") return std::vector<uint64_t>(route.shard_count(), 0);
    if (shard.shard() < counts.size()) counts[shard.shard()] = shard.vector_count();
  }
  std::lock_guard lock(sizes_mutex_);
  sizes_[name] = Sizes{counts, std::chrono::steady_clock::now()};
  return counts;
}

absl::StatusOr<std::vector<Router::ShardShare>> Router::ShareOut(const std::string& collection,
                                                                 v1::Budget budget,
                                                                 const Route& route,
                                                                 Deadline deadline,
                                                                 bool router_cap) {
  // The router's --max_query_mflops bounds the whole query, as a standalone server's does.
  const double cap = router_cap ? options_.max_query_mflops : 0;
  const bool capped_budget = budget.limit_case() == v1::Budget::kMaxMflops;
  if (cap > 0 && capped_budget && budget.max_mflops() > cap) {
    if (!options_.clamp_over_limit) {
      return absl::ResourceExhaustedError(absl::StrCat("budget.max_mflops = ", budget.max_mflops(),
                                                       " exceeds this server's limit of ", cap));
    }
    budget.set_max_mflops(cap);
  }
  const std::vector<double> fractions =
      SizeFractions(cap > 0 || capped_budget ? ShardSizes(collection, route, deadline)
                                             : std::vector<uint64_t>(route.shard_count(), 0));
  std::vector<ShardShare> shares(route.shard_count());
  for (size_t i = 0; i < shares.size(); ++i) {
    shares[i].budget = budget;
    // A non-positive or NaN cap goes as it is: every shard refuses it as a standalone server does.
    if (capped_budget && budget.max_mflops() > 0) {
      shares[i].budget.set_max_mflops(ShareOf(budget.max_mflops(), fractions[i]));
    }
    if (cap > 0) {
      shares[i].limits.set_max_mflops(ShareOf(cap, fractions[i]));
      shares[i].limits.set_cluster_max_mflops(cap);
      shares[i].limits.set_clamp(options_.clamp_over_limit);
    }
  }
  return shares;
}

namespace {

// The search `request` to every shard of `route`, each with its budget; `call(stub, context,
// part, answer, done)` starts one call. A copy that could not answer (its node died, not yet
// expired from etcd) is asked again on another in-sync copy of its shard at once, and one slower
// than its shard's hedge delay is asked there too (`reads`). The replies, and in *answered the
// shards to merge.
template <typename ShardRequest, typename Response, typename Request, typename Call>
absl::StatusOr<std::vector<ShardReply<Response>>> SearchEveryShard(
    ShardReads& reads, const Router::Route& route, const Request& request,
    const std::vector<Router::ShardShare>& shares, Router::Deadline deadline, Call call,
    std::vector<size_t>* answered) {
  std::vector<ShardRequest> parts(route.shard_count());
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].set_shard(static_cast<uint32_t>(i));
    *parts[i].mutable_request() = request;
    if (request.has_budget()) *parts[i].mutable_request()->mutable_budget() = shares[i].budget;
    *parts[i].mutable_limits() = shares[i].limits;
  }
  auto replies = reads.Read<Response>(
      // A pinned read (session_key) keeps its copies: retried on failure, never hedged elsewhere.
      request.collection(), route.ReadPlans(), deadline,
      /*hedge=*/request.session_key().empty(),
      [&](size_t shard, v1::ShardService::Stub& stub, grpc::ClientContext* context,
          Response* answer, std::function<void(grpc::Status)> done) {
        call(stub, context, &parts[shard], answer, std::move(done));
      });
  const absl::Status admitted = Admit(replies, route, request.allow_partial(), answered);
  if (absl::IsOutOfRange(admitted) && request.budget().limit_case() == v1::Budget::kMaxMflops) {
    // The shard's message speaks of its share and its rows; say how the share came about.
    for (size_t i = 0; i < replies.size(); ++i) {
      if (absl::IsOutOfRange(ShardVerdict(route.node_ids[i], replies[i].status))) {
        return absl::OutOfRangeError(
            absl::StrCat("shard ", i, " of ", replies.size(), ": ", admitted.message(),
                         " (the request's max_mflops = ", request.budget().max_mflops(),
                         " is split over the shards by their sizes; this shard's share was ",
                         shares[i].budget.max_mflops(), ")"));
      }
    }
  }
  RETURN_IF_ERROR(admitted);
  return replies;
}

}  // namespace

std::optional<Router::MergedTarget> Router::TranslateTarget(const Route& route, uint32_t k,
                                                            uint32_t query_dims,
                                                            v1::Budget* budget) const {
  if (budget->limit_case() != v1::Budget::kTargetRecall) return std::nullopt;
  // The curve was measured on full-dim searches: a dimension budget below the full dim changes
  // what every shard can reach, so the shards are asked for the target as it is.
  const uint32_t dim = route.record.spec().dim();
  if (query_dims < dim || (budget->has_max_dims() && budget->max_dims() < dim)) return std::nullopt;
  std::optional<MergedTarget> merged = MergedTargetFor(route, k, budget->target_recall());
  if (merged.has_value()) budget->set_target_recall(static_cast<float>(merged->shard_target));
  return merged;
}

namespace {

// The merged calibration's estimate replaces the shards' own (theirs are of per-shard recall);
// the target counts as missed where the estimate does not cover the answer: some shard did not
// answer, or a cap stopped a shard's plan.
void SetMergedEstimate(const std::optional<Router::MergedTarget>& merged,
                       v1::SearchResponse* response) {
  if (!merged.has_value()) return;
  *response->mutable_estimate() = merged->estimate;
  response->set_target_missed(!merged->met || response->cost().capped() ||
                              response->shards_answered() < response->shards_total());
}

}  // namespace

absl::Status Router::Search(const v1::SearchRequest& request, v1::SearchResponse* response,
                            Deadline deadline) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route,
                   Resolve(request.collection(), Pick::kInSyncCopy, request.session_key()));
  v1::Budget budget = request.budget();
  const std::optional<MergedTarget> merged =
      TranslateTarget(route, request.k(), static_cast<uint32_t>(request.query_size()), &budget);
  ASSIGN_OR_RETURN(const std::vector<ShardShare> shares,
                   ShareOut(request.collection(), budget, route, deadline));
  std::vector<size_t> answered;
  ASSIGN_OR_RETURN(const auto replies,
                   (SearchEveryShard<v1::ShardSearchRequest, v1::SearchResponse>(
                       reads_, route, request, shares, deadline,
                       [](v1::ShardService::Stub& stub, grpc::ClientContext* context,
                          const v1::ShardSearchRequest* part, v1::SearchResponse* answer,
                          std::function<void(grpc::Status)> done) {
                         stub.async()->Search(context, part, answer, std::move(done));
                       },
                       &answered)));
  std::vector<ShardAnswer> answers;
  answers.reserve(answered.size());
  for (size_t i : answered) answers.push_back({static_cast<uint32_t>(i), &replies[i].response});
  MergeAnswers(answers, request.k(), route.record.spec().metric(), route.shard_count(), response);
  SetMergedEstimate(merged, response);
  return absl::OkStatus();
}

absl::Status Router::SearchBatch(const v1::SearchBatchRequest& request,
                                 v1::SearchBatchResponse* response, Deadline deadline) {
  return SearchBatchAt(request, response, deadline, /*as_calibration=*/false);
}

absl::Status Router::SearchBatchAt(const v1::SearchBatchRequest& request,
                                   v1::SearchBatchResponse* response, Deadline deadline,
                                   bool as_calibration) {
  RETURN_IF_ERROR(ValidateCollectionName(request.collection(), "collection"));
  ASSIGN_OR_RETURN(const Route route,
                   Resolve(request.collection(), Pick::kInSyncCopy, request.session_key()));
  v1::Budget budget = request.budget();
  const std::optional<MergedTarget> merged =
      as_calibration ? std::nullopt
                     : TranslateTarget(route, request.k(), request.query_dims(), &budget);
  ASSIGN_OR_RETURN(const std::vector<ShardShare> shares,
                   ShareOut(request.collection(), budget, route, deadline, !as_calibration));
  std::vector<size_t> answered;
  ASSIGN_OR_RETURN(const auto replies,
                   (SearchEveryShard<v1::ShardSearchBatchRequest, v1::SearchBatchResponse>(
                       reads_, route, request, shares, deadline,
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
    std::vector<ShardAnswer> answers;
    answers.reserve(answered.size());
    for (size_t i : answered) {
      answers.push_back({static_cast<uint32_t>(i), &replies[i].response.results(q)});
    }
    v1::SearchResponse* merged_answer = response->add_results();
    MergeAnswers(answers, request.k(), route.record.spec().metric(), route.shard_count(),
                 merged_answer);
    SetMergedEstimate(merged, merged_answer);
  }
  return absl::OkStatus();
}

}  // namespace adanns::server
