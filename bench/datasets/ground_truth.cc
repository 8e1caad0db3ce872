#include "bench/datasets/ground_truth.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace adanns::bench {
namespace {

using idx_t = int64_t;  // FAISS labels

double ExactSquaredL2(const float* a, const float* b, size_t dim) {
  double sum = 0;
  for (size_t j = 0; j < dim; ++j) {
    const double diff = static_cast<double>(a[j]) - static_cast<double>(b[j]);
    sum += diff * diff;
  }
  return sum;
}

double SquaredNorm(const float* a, size_t dim) {
  double sum = 0;
  for (size_t j = 0; j < dim; ++j) sum += static_cast<double>(a[j]) * a[j];
  return sum;
}

bool Closer(const std::pair<double, int32_t>& a, const std::pair<double, int32_t>& b) {
  return a.first != b.first ? a.first < b.first : a.second < b.second;
}

// Keeps the best `k` of `scored` (in place) and writes them, best first, into row `q`.
void KeepBest(std::vector<std::pair<double, int32_t>>& scored, uint32_t k, size_t q,
              GroundTruth& out) {
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end(), Closer);
  for (uint32_t r = 0; r < k; ++r) {
    out.neighbors.values[q * k + r] = scored[r].second;
    out.squared_distances.values[q * k + r] = scored[r].first;
  }
}

}  // namespace

absl::StatusOr<GroundTruth> ExactL2GroundTruth(const FloatMatrix& base, const FloatMatrix& queries,
                                               uint32_t k) {
  const size_t dim = base.cols;
  if (dim == 0 || queries.cols != dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("ground truth: base has ", dim, " dims, queries ", queries.cols));
  }
  if (k == 0 || k > base.rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("ground truth: k = ", k, " must be in [1, ", base.rows, "]"));
  }
  if (base.rows > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("ground truth: base rows do not fit int32 indices");
  }
  // Twice k (at least k + 32) leaves room for neighbours FAISS's float expansion misorders.
  const size_t shortlist = std::min<size_t>(base.rows, std::max<size_t>(2 * size_t{k}, k + 32));
  const size_t nq = queries.rows;
  std::vector<float> approx(nq * shortlist);
  std::vector<idx_t> labels(nq * shortlist);
  try {
    // Searches `base` in place (an IndexFlat would copy it: 3 GB more at 1M x 768).
    faiss::knn_L2sqr(queries.values.data(), base.values.data(), dim, nq, base.rows, shortlist,
                     approx.data(), labels.data());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("FAISS flat search failed: ", e.what()));
  }

  double max_base_norm = 0;
  for (size_t i = 0; i < base.rows; ++i) {
    max_base_norm = std::max(max_base_norm, SquaredNorm(base.row(i), dim));
  }

  GroundTruth out;
  out.neighbors = ZeroMatrix<int32_t>(nq, k);
  out.squared_distances = ZeroMatrix<double>(nq, k);
  std::atomic<uint64_t> rescans{0};
#pragma omp parallel
  {
    std::vector<std::pair<double, int32_t>> scored;
#pragma omp for schedule(dynamic, 16)
    for (size_t q = 0; q < nq; ++q) {
      const float* query = queries.row(q);
      scored.clear();
      for (size_t r = 0; r < shortlist; ++r) {
        const idx_t id = labels[q * shortlist + r];
        if (id < 0) continue;
        scored.emplace_back(ExactSquaredL2(query, base.row(id), dim), static_cast<int32_t>(id));
      }
      // FAISS computes |q|^2 + |b|^2 - 2 q.b in float: the worst-case rounding of a dim-term dot
      // product is about dim * 2^-24 * |q| |b|. A row outside the shortlist is at least (last
      // approximate distance - error) away; when that could beat the k-th exact distance, the
      // shortlist is not trusted and the query is scanned in full.
      const double error = 2.0 * static_cast<double>(dim + 4) *
                           std::numeric_limits<float>::epsilon() / 2 *
                           (SquaredNorm(query, dim) + max_base_norm);
      const double outside = static_cast<double>(approx[q * shortlist + shortlist - 1]) - error;
      // A shortlist that is the whole base has nothing outside it.
      bool trusted = scored.size() == base.rows;
      if (!trusted && scored.size() >= k) {
        std::nth_element(scored.begin(), scored.begin() + (k - 1), scored.end(), Closer);
        trusted = scored[k - 1].first < outside;
      }
      if (!trusted) {
        ++rescans;
        scored.clear();
        for (size_t i = 0; i < base.rows; ++i) {
          scored.emplace_back(ExactSquaredL2(query, base.row(i), dim), static_cast<int32_t>(i));
        }
      }
      KeepBest(scored, k, q, out);
    }
  }
  out.full_rescans = rescans.load();
  return out;
}

}  // namespace adanns::bench
