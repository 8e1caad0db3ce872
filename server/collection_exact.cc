// Collection: exact nearest neighbours over the whole table in short holds, for work that runs
// beside the searches at a low priority (the online recall check).
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/stage_scorer.h"
#include "index/stored_rows.h"
#include "index/topk.h"
#include "server/collection.h"

namespace adanns::server {

absl::StatusOr<std::vector<uint64_t>> Collection::ExactNearestIds(std::span<const float> query,
                                                                  uint32_t k) const {
  const auto dims = static_cast<uint32_t>(query.size());
  if (dims == 0 || dims > meta_.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("an exact search needs 1..", meta_.dim, " query dims, got ", dims));
  }
  if (k == 0) return std::vector<uint64_t>();
  bool rerank_from_storage = false;
  {
    auto lock = BackgroundTableHold();
    if (dims > table_.resident_dims()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "an exact scan at ", dims, " dims would read every row from storage (resident_dims = ",
          table_.resident_dims(), ")"));
    }
    rerank_from_storage = table_.RerankReadsStorage(dims);
  }
  const size_t keep =
      rerank_from_storage ? std::max<size_t>(kFreshShortlistPerK * k, kFreshShortlistMin) : k;
  struct Candidate {
    index::ScoredRow scored;
    uint64_t id;
  };
  const auto nearer = [](const Candidate& a, const Candidate& b) {
    return index::RanksBefore(a.scored.distance, a.id, b.scored.distance, b.id);
  };
  std::vector<Candidate> best;
  index::StageScorer scorer(meta_.metric, query, dims);
  for (size_t begin = 0;; begin += kExactRowsPerHold) {
    auto lock = BackgroundTableHold();
    const size_t rows = table_.row_count();
    if (begin >= rows) break;
    const size_t end = std::min(rows, begin + kExactRowsPerHold);
    for (const index::ScoredRow& row : index::ScanRowRange(table_, scorer, keep, begin, end)) {
      best.push_back({row, table_.IdOf(row.row)});
    }
    if (best.size() >= 2 * keep) {  // keep the best `keep` so far, not every step's
      std::nth_element(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(keep) - 1,
                       best.end(), nearer);
      best.resize(keep);
    }
  }
  std::sort(best.begin(), best.end(), nearer);
  std::vector<uint64_t> ids;
  std::vector<index::ScoredRow> candidates;
  absl::flat_hash_set<uint64_t> seen;
  auto lock = BackgroundTableHold();
  for (const Candidate& candidate : best) {
    // Gone, or its row reused, since its step. An id deleted and written again meanwhile into a
    // row already scanned is missed: a check samples, it does not need every write.
    const index::RowId row = candidate.scored.row;
    if (!table_.IsLive(row) || table_.IdOf(row) != candidate.id) continue;
    if (!seen.insert(candidate.id).second) continue;
    ids.push_back(candidate.id);
    candidates.push_back(candidate.scored);
    if (ids.size() == keep) break;
  }
  if (!rerank_from_storage) {
    if (ids.size() > k) ids.resize(k);
    return ids;
  }
  // One batch read of at most `keep` rows, as a search's re-rank does.
  index::tls_fetch_ledger.error = absl::OkStatus();
  const std::vector<index::ScoredRow> reranked = index::RerankRows(table_, scorer, candidates, k);
  RETURN_IF_ERROR(index::tls_fetch_ledger.error);
  ids.clear();
  for (const index::ScoredRow& row : reranked) ids.push_back(table_.IdOf(row.row));
  return ids;
}

}  // namespace adanns::server
