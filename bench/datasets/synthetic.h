// Seeded synthetic Matryoshka-like data ("synthetic-mrl"): Gaussian clusters whose centres and
// noise share a decaying per-dimension spectrum, so that variance falls with the dim index and
// prefixes nest.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/datasets/ground_truth.h"
#include "bench/datasets/matrix.h"
#include "bench/datasets/prepared_dataset.h"

namespace adanns::bench {

struct SyntheticOptions {
  // Base vectors, 1 to 2^31 - 1 (ground-truth ids are int32).
  uint64_t n = 0;
  // Dims per vector, 1 to 65536.
  uint32_t dim = 0;
  // Query vectors, drawn from the same distribution as the base (not copies of base rows).
  // Default: 10000.
  uint32_t queries = 10000;
  // Cluster centres; 0 picks round(sqrt(n)) clamped to [1, 4096].
  // Default: 0.
  uint32_t clusters = 0;
  // Every value follows from the seed alone (not from the thread count).
  // Default: 1.
  uint64_t seed = 1;
  // Ground-truth neighbours per query, 1 to n.
  // Default: 100.
  uint32_t gt_k = 100;
  // Dim j has standard deviation (j + 1)^(-decay / 2), i.e. variance (j + 1)^-decay.
  // Default: 1.
  double spectrum_decay = 1.0;
  // Standard deviation of a point around its centre, relative to the spread of the centres. It
  // sets how hard the set is: on 100k x 256, IVF with nlist 1024 and nprobe 4 finds 99.7% of
  // the true top-10 at 0.6, 90% at 1.2 (like Fashion-MNIST-PCA's 86%), 58% at 1.5.
  // Default: 1.2.
  double noise = 1.2;
};

// INVALID_ARGUMENT naming the flag when `options` are out of range.
absl::Status ValidateSyntheticOptions(const SyntheticOptions& options);

// The cluster count `options` resolves to.
uint32_t SyntheticClusters(const SyntheticOptions& options);

// Fills rows [first_row, first_row + rows) of the stream (base when `queries` is false) into
// `out` (rows x dim). A row depends only on the seed, the stream and its index, so any chunking
// and any thread count give the same bytes. `centres` comes from SyntheticCentres.
void GenerateSyntheticRows(const SyntheticOptions& options, const FloatMatrix& centres,
                           bool queries, uint64_t first_row, uint64_t rows, float* out);

// clusters x dim centres, each dim rescaled to mean 0 and standard deviation (j + 1)^(-decay / 2)
// over the centres, so the spectrum holds exactly rather than only in expectation.
FloatMatrix SyntheticCentres(const SyntheticOptions& options);

// The base (or query) stream of `options` as a RowChunkSource for StreamedL2GroundTruth: rows are
// generated on demand from the seed (the same bytes GenerateSyntheticRows gives), never stored.
RowChunkSource SyntheticRowSource(const SyntheticOptions& options, bool queries);

// Per-dim variance of `vectors`, and the fraction of the total in each power-of-two prefix.
struct SpectrumCheck {
  std::vector<double> variance;                              // per dim
  std::vector<std::pair<uint32_t, double>> prefix_fraction;  // (prefix dims, fraction of total)
  // Mean variance of dims [2^b - 1, 2^(b+1) - 1) for b = 0, 1, ...: strictly decreasing when the
  // spectrum nests (single dims may swap by sampling noise; blocks should not).
  std::vector<double> block_variance;
};
SpectrumCheck CheckSpectrum(const FloatMatrix& vectors);

// Generates base and queries and computes exact L2 ground truth (multithreaded: OpenMP and BLAS
// threads in force). Holds the base once, plus the queries. INVALID_ARGUMENT for bad options.
// `full_rescans` (optional) receives the ground truth's count of queries scanned in full.
absl::StatusOr<PreparedDataset> GenerateSynthetic(const SyntheticOptions& options,
                                                  const StepObserver& on_step = {},
                                                  uint64_t* full_rescans = nullptr);

}  // namespace adanns::bench
