// GPU-vs-CPU agreement checks of the BatchScorer and GPU k-means on seeded synthetic data. Shared
// by `adanns-gpu check` (the device script) and gpu_scorer_test (skipped without a GPU).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "index/batch_scorer.h"

namespace adanns::gpu_bench {

struct CheckResult {
  std::string name;
  bool passed = false;
  double id_recall = 0;           // |GPU ids ∩ CPU ids| / CPU hits, mean over queries
  double max_distance_error = 0;  // rank by rank, relative to max(1, |CPU distance|)
  std::string detail;
};

// Compares two results of the same request: counts equal, distances rank by rank within
// `tolerance` (ties may reorder ids but not distances), ids overlapping >= min_recall.
CheckResult CompareTopK(const std::string& name, const index::BatchTopK& gpu,
                        const index::BatchTopK& cpu, double tolerance = 1e-3,
                        double min_recall = 0.99);

// Every agreement check: fused scan and candidate scoring (fp32/fp16 storage, L2/IP/cosine, a
// random and a nested PCA-like set, several batch sizes, prefixes and k), results after row
// updates and deletes, and GPU k-means' objective within 1% of the CPU (FAISS) build's.
// The edge cases of edge_checks.cc run with them.
std::vector<CheckResult> RunGpuChecks(uint64_t seed);

// Ties broken by row, NaN ranked last, fp16's range, a repeated row in one update, concurrent
// scorers, more than 65535 query groups, the memory budget.
std::vector<CheckResult> RunEdgeChecks(uint64_t seed);

// Seeded data: `nested` gives dimension j a standard deviation of 1/sqrt(1 + j), like the
// leading PCA components of an embedding (Matryoshka prefixes carry most of the variance).
std::vector<float> SyntheticRows(size_t n, uint32_t dim, uint64_t seed, bool nested);

}  // namespace adanns::gpu_bench
