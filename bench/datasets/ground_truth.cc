#include "bench/datasets/ground_truth.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace adanns::bench {
namespace {

using idx_t = int64_t;  // FAISS labels
using Scored = std::pair<double, int32_t>;

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

bool Closer(const Scored& a, const Scored& b) {
  return a.first != b.first ? a.first < b.first : a.second < b.second;
}

// Keeps the best `k` of `scored` (in place) and writes them, best first, into row `q`.
void KeepBest(std::vector<Scored>& scored, uint32_t k, size_t q, GroundTruth& out) {
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end(), Closer);
  for (uint32_t r = 0; r < k; ++r) {
    out.neighbors.values[q * k + r] = scored[r].second;
    out.squared_distances.values[q * k + r] = scored[r].first;
  }
}

// Every query's best `width` rows so far by FAISS's float distance, ascending (ties by lower row),
// unfilled slots at +inf with label -1; plus the largest squared norm seen (the error bound's).
struct Shortlists {
  size_t width = 0;
  uint64_t next_row = 0;
  double max_base_norm = 0;
  std::vector<float> approx;
  std::vector<idx_t> labels;
};

// Merges one chunk's sorted top-`chunk_width` (labels relative to `first`) into `lists`.
void MergeChunk(Shortlists& lists, size_t nq, size_t chunk_width, const std::vector<float>& approx,
                const std::vector<idx_t>& labels, uint64_t first) {
  const size_t width = lists.width;
#pragma omp parallel
  {
    std::vector<float> merged_approx(width);
    std::vector<idx_t> merged_labels(width);
#pragma omp for schedule(static)
    for (size_t q = 0; q < nq; ++q) {
      float* old_approx = &lists.approx[q * width];
      idx_t* old_labels = &lists.labels[q * width];
      const float* new_approx = &approx[q * chunk_width];
      const idx_t* new_labels = &labels[q * chunk_width];
      size_t a = 0;
      size_t b = 0;
      for (size_t out = 0; out < width; ++out) {
        const bool b_valid = b < chunk_width && new_labels[b] >= 0;
        const bool a_valid = a < width && old_labels[a] >= 0;
        // Earlier chunks hold lower rows, so on equal distance the old entry wins the tie.
        const bool take_new = b_valid && (!a_valid || new_approx[b] < old_approx[a]);
        if (take_new) {
          merged_approx[out] = new_approx[b];
          merged_labels[out] = new_labels[b] + static_cast<idx_t>(first);
          ++b;
        } else if (a_valid) {
          merged_approx[out] = old_approx[a];
          merged_labels[out] = old_labels[a];
          ++a;
        } else {
          merged_approx[out] = std::numeric_limits<float>::infinity();
          merged_labels[out] = -1;
        }
      }
      std::copy(merged_approx.begin(), merged_approx.end(), old_approx);
      std::copy(merged_labels.begin(), merged_labels.end(), old_labels);
    }
  }
}

// What a checkpoint must match to be resumed.
struct CheckpointHeader {
  uint64_t magic = 0x31545255544d4441ULL;  // "ADMTRUT1"
  uint64_t n = 0;
  uint64_t dim = 0;
  uint64_t queries = 0;
  uint64_t k = 0;
  uint64_t width = 0;
  uint64_t query_hash = 0;
  uint64_t next_row = 0;
  double max_base_norm = 0;
};

// FNV-1a over the query bytes: a checkpoint of other queries is not resumed.
uint64_t HashQueries(const FloatMatrix& queries) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  const auto* bytes = reinterpret_cast<const unsigned char*>(queries.values.data());
  for (size_t i = 0; i < queries.values.size() * sizeof(float); ++i) {
    hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
  }
  return hash;
}

absl::Status SaveCheckpoint(const std::string& path, CheckpointHeader header,
                            const Shortlists& lists) {
  header.next_row = lists.next_row;
  header.max_base_norm = lists.max_base_norm;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&header), sizeof(header));
    out.write(reinterpret_cast<const char*>(lists.approx.data()),
              static_cast<std::streamsize>(lists.approx.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(lists.labels.data()),
              static_cast<std::streamsize>(lists.labels.size() * sizeof(idx_t)));
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write checkpoint ", tmp));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", error.message()));
  return absl::OkStatus();
}

// Loads `path` into `lists` when it exists and matches `expected`; false otherwise (start over).
bool LoadCheckpoint(const std::string& path, const CheckpointHeader& expected, Shortlists& lists) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  CheckpointHeader header;
  in.read(reinterpret_cast<char*>(&header), sizeof(header));
  if (!in || header.magic != expected.magic || header.n != expected.n ||
      header.dim != expected.dim || header.queries != expected.queries || header.k != expected.k ||
      header.width != expected.width || header.query_hash != expected.query_hash ||
      header.next_row > header.n) {
    return false;
  }
  in.read(reinterpret_cast<char*>(lists.approx.data()),
          static_cast<std::streamsize>(lists.approx.size() * sizeof(float)));
  in.read(reinterpret_cast<char*>(lists.labels.data()),
          static_cast<std::streamsize>(lists.labels.size() * sizeof(idx_t)));
  if (!in) return false;
  lists.next_row = header.next_row;
  lists.max_base_norm = header.max_base_norm;
  return true;
}

absl::Status CheckShapes(uint64_t n, size_t dim, const FloatMatrix& queries, uint32_t k) {
  if (dim == 0 || queries.cols != dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("ground truth: base has ", dim, " dims, queries ", queries.cols));
  }
  if (k == 0 || k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("ground truth: k = ", k, " must be in [1, ", n, "]"));
  }
  if (n > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("ground truth: base rows do not fit int32 indices");
  }
  return absl::OkStatus();
}

// Pass 1: every chunk's FAISS top-`width`, merged into the shortlists; resumes and checkpoints.
absl::Status ShortlistPass(uint64_t n, size_t dim, const RowChunkSource& rows,
                           const FloatMatrix& queries, const StreamedTruthOptions& options,
                           const CheckpointHeader& header, Shortlists& lists) {
  const size_t nq = queries.rows;
  const uint64_t chunk_rows = std::max<uint64_t>(1, options.rows_per_chunk);
  std::vector<float> scratch;
  std::vector<float> approx(nq * lists.width);
  std::vector<idx_t> labels(nq * lists.width);
  uint32_t chunks_since_save = 0;
  while (lists.next_row < n) {
    const uint64_t first = lists.next_row;
    const uint64_t count = std::min(chunk_rows, n - first);
    const float* chunk = rows(first, count, scratch);
    // FAISS wants k <= rows: a short last chunk proposes all of its rows.
    const size_t chunk_width = static_cast<size_t>(std::min<uint64_t>(lists.width, count));
    try {
      faiss::knn_L2sqr(queries.values.data(), chunk, dim, nq, count, chunk_width, approx.data(),
                       labels.data());
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("FAISS flat search failed: ", e.what()));
    }
    double chunk_max = 0;
#pragma omp parallel for reduction(max : chunk_max) schedule(static)
    for (uint64_t i = 0; i < count; ++i)
      chunk_max = std::max(chunk_max, SquaredNorm(chunk + i * dim, dim));
    lists.max_base_norm = std::max(lists.max_base_norm, chunk_max);
    MergeChunk(lists, nq, chunk_width, approx, labels, first);
    lists.next_row = first + count;
    if (options.progress) options.progress(lists.next_row, n);
    const bool stop = options.stop_after_rows > 0 && lists.next_row >= options.stop_after_rows &&
                      lists.next_row < n;
    if (!options.checkpoint_path.empty() && lists.next_row < n &&
        (++chunks_since_save >= std::max<uint32_t>(1, options.checkpoint_every) || stop)) {
      RETURN_IF_ERROR(SaveCheckpoint(options.checkpoint_path, header, lists));
      chunks_since_save = 0;
    }
    if (stop) {
      return absl::CancelledError(absl::StrCat("ground truth stopped after row ", lists.next_row,
                                               " of ", n, " (resumable from the checkpoint)"));
    }
  }
  return absl::OkStatus();
}

// Pass 2, only for queries whose shortlist was not trusted: every row scored exactly.
void FullRescan(uint64_t n, size_t dim, const RowChunkSource& rows, const FloatMatrix& queries,
                uint32_t k, const StreamedTruthOptions& options,
                const std::vector<size_t>& untrusted, GroundTruth& out) {
  std::vector<std::vector<Scored>> best(untrusted.size());
  const uint64_t chunk_rows = std::max<uint64_t>(1, options.rows_per_chunk);
  std::vector<float> scratch;
  for (uint64_t first = 0; first < n; first += chunk_rows) {
    const uint64_t count = std::min(chunk_rows, n - first);
    const float* chunk = rows(first, count, scratch);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t u = 0; u < untrusted.size(); ++u) {
      const float* query = queries.row(untrusted[u]);
      std::vector<Scored>& scored = best[u];
      for (uint64_t i = 0; i < count; ++i) {
        scored.emplace_back(ExactSquaredL2(query, chunk + i * dim, dim),
                            static_cast<int32_t>(first + i));
      }
      // Keep memory at O(k) per query between chunks.
      if (scored.size() > 4 * size_t{k} + chunk_rows) {
        std::nth_element(scored.begin(), scored.begin() + (k - 1), scored.end(), Closer);
        scored.resize(k);
      }
    }
  }
  for (size_t u = 0; u < untrusted.size(); ++u) KeepBest(best[u], k, untrusted[u], out);
}

}  // namespace

absl::StatusOr<GroundTruth> StreamedL2GroundTruth(uint64_t n, size_t dim,
                                                  const RowChunkSource& rows,
                                                  const FloatMatrix& queries, uint32_t k,
                                                  const StreamedTruthOptions& options) {
  RETURN_IF_ERROR(CheckShapes(n, dim, queries, k));
  const size_t nq = queries.rows;
  // Twice k (at least k + 32) leaves room for neighbours FAISS's float expansion misorders.
  Shortlists lists;
  lists.width =
      static_cast<size_t>(std::min<uint64_t>(n, std::max<uint64_t>(2 * uint64_t{k}, k + 32)));
  lists.approx.assign(nq * lists.width, std::numeric_limits<float>::infinity());
  lists.labels.assign(nq * lists.width, -1);
  CheckpointHeader header;
  header.n = n;
  header.dim = dim;
  header.queries = nq;
  header.k = k;
  header.width = lists.width;
  if (!options.checkpoint_path.empty()) {
    header.query_hash = HashQueries(queries);
    if (LoadCheckpoint(options.checkpoint_path, header, lists)) {
      std::fprintf(stderr, "ground truth: resuming at row %llu of %llu\n",
                   static_cast<unsigned long long>(lists.next_row),
                   static_cast<unsigned long long>(n));
    }
  }
  RETURN_IF_ERROR(ShortlistPass(n, dim, rows, queries, options, header, lists));

  GroundTruth out;
  out.neighbors = ZeroMatrix<int32_t>(nq, k);
  out.squared_distances = ZeroMatrix<double>(nq, k);
  std::vector<char> trusted(nq, 1);
#pragma omp parallel
  {
    std::vector<Scored> scored;
    std::vector<float> scratch;
#pragma omp for schedule(dynamic, 16)
    for (size_t q = 0; q < nq; ++q) {
      const float* query = queries.row(q);
      scored.clear();
      for (size_t r = 0; r < lists.width; ++r) {
        const idx_t id = lists.labels[q * lists.width + r];
        if (id < 0) continue;
        scored.emplace_back(ExactSquaredL2(query, rows(id, 1, scratch), dim),
                            static_cast<int32_t>(id));
      }
      // FAISS computes |q|^2 + |b|^2 - 2 q.b in float: the worst-case rounding of a dim-term dot
      // product is about dim * 2^-24 * |q| |b|. A row outside the shortlist is at least (last
      // approximate distance - error) away; when that could beat the k-th exact distance, the
      // shortlist is not trusted and the query is scanned in full.
      const double error = 2.0 * static_cast<double>(dim + 4) *
                           std::numeric_limits<float>::epsilon() / 2 *
                           (SquaredNorm(query, dim) + lists.max_base_norm);
      const double outside =
          static_cast<double>(lists.approx[q * lists.width + lists.width - 1]) - error;
      // A shortlist that is the whole base has nothing outside it.
      bool ok = scored.size() == n;
      if (!ok && scored.size() >= k) {
        std::nth_element(scored.begin(), scored.begin() + (k - 1), scored.end(), Closer);
        ok = scored[k - 1].first < outside;
      }
      if (ok) {
        KeepBest(scored, k, q, out);
      } else {
        trusted[q] = 0;
      }
    }
  }
  std::vector<size_t> untrusted;
  for (size_t q = 0; q < nq; ++q) {
    if (!trusted[q]) untrusted.push_back(q);
  }
  if (!untrusted.empty()) FullRescan(n, dim, rows, queries, k, options, untrusted, out);
  out.full_rescans = untrusted.size();
  if (!options.checkpoint_path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options.checkpoint_path, ignored);
  }
  return out;
}

absl::StatusOr<GroundTruth> ExactL2GroundTruth(const FloatMatrix& base, const FloatMatrix& queries,
                                               uint32_t k) {
  // One chunk: the base is searched in place (an IndexFlat would copy it: 3 GB more at 1M x 768).
  StreamedTruthOptions options;
  options.rows_per_chunk = std::max<uint64_t>(1, base.rows);
  const size_t dim = base.cols;
  const RowChunkSource in_memory = [&base, dim](uint64_t first, uint64_t, std::vector<float>&) {
    return base.values.data() + first * dim;
  };
  return StreamedL2GroundTruth(base.rows, dim, in_memory, queries, k, options);
}

}  // namespace adanns::bench
