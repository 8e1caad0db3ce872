// Exact L2 nearest neighbours of queries among base vectors: FAISS's BLAS search proposes a
// shortlist, which is re-scored in double precision so the order does not depend on float rounding.
// The base may be held in memory or streamed chunk by chunk (a base larger than RAM, regenerated
// from a seed), with checkpoints so a long pass can resume.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/datasets/matrix.h"

namespace adanns::bench {

struct GroundTruth {
  Int32Matrix neighbors;  // queries x k base row indices, nearest first, ties by lower index
  Matrix<double> squared_distances;  // queries x k, matching `neighbors`
  // Queries whose shortlist could have missed a neighbour and were scanned exactly in full.
  uint64_t full_rescans = 0;
};

// Top-`k` by squared L2 over all of `base` for every row of `queries` (same cols); `base` is
// searched in place, never copied. On unit vectors this is also the cosine ground truth
// (|a - b|^2 = 2 - 2 cos). Uses the OpenMP / BLAS thread counts in force. INVALID_ARGUMENT on shape
// errors, INTERNAL if FAISS throws.
absl::StatusOr<GroundTruth> ExactL2GroundTruth(const FloatMatrix& base, const FloatMatrix& queries,
                                               uint32_t k);

// Rows [first, first + count) of a streamed base, row-major: either a pointer into memory the
// source owns or into `scratch`, which the source may resize. Called from several threads at once
// (each with its own scratch) when `count` is 1.
using RowChunkSource =
    std::function<const float*(uint64_t first, uint64_t count, std::vector<float>& scratch)>;

struct StreamedTruthOptions {
  // Base rows per pass step (memory: this many rows plus queries x shortlist distances).
  uint64_t rows_per_chunk = 65536;
  // When set, the shortlists are saved here (write to PATH.tmp, then rename) every
  // `checkpoint_every` chunks, and a run whose checkpoint matches (same base size, dims, queries,
  // k) resumes after the last saved chunk. Removed when the pass completes.
  std::string checkpoint_path;
  uint32_t checkpoint_every = 16;
  // When nonzero, the pass saves its checkpoint and returns CANCELLED once this many rows are
  // done (a run sliced to fit a time window; also how the resume is tested).
  uint64_t stop_after_rows = 0;
  // Rows scanned so far and the total, after each chunk.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// ExactL2GroundTruth over `n` rows of `dim` floats read from `rows` chunk by chunk: the same
// shortlist, exact re-score (each shortlisted row read again alone) and full-rescan rule, so an
// in-memory base and the same rows streamed give the same answer. INVALID_ARGUMENT on shapes,
// INTERNAL on FAISS or checkpoint I/O errors, CANCELLED at stop_after_rows.
absl::StatusOr<GroundTruth> StreamedL2GroundTruth(uint64_t n, size_t dim,
                                                  const RowChunkSource& rows,
                                                  const FloatMatrix& queries, uint32_t k,
                                                  const StreamedTruthOptions& options = {});

}  // namespace adanns::bench
