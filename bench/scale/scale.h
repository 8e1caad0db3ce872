// adanns-scale: a synthetic collection larger than memory, streamed to a running server and
// searched against streamed exact ground truth. Every phase regenerates its vectors from the
// seed (bench/datasets/synthetic.h), so nothing the size of the collection is ever written to a
// file or held in RAM, and each phase can be re-run after an interruption:
//   ingest  resumes after the last fully committed chunk (the collection's vector count);
//   truth   resumes from its checkpoint;
//   build   does nothing when the IVF is already ready;
//   search  only reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/datasets/synthetic.h"

namespace adanns::bench {

struct ScaleServer {
  std::string server;  // HOST:PORT, loopback only
  std::string collection = "scale";
};

struct ScaleIngestOptions {
  ScaleServer target;
  // Storage of the collection when it is created (an existing one must have the same dim).
  uint32_t resident_dims = 0;      // 0 = every dim resident
  std::string precision = "fp32";  // fp32, fp16 or int8
  // Rows generated and upserted per client stream (memory: twice this many rows, one chunk being
  // generated while the previous one is sent).
  uint64_t chunk_rows = 20000;
};

struct ScaleIngestResult {
  uint64_t resumed_from = 0;  // rows already committed when the phase started
  uint64_t upserted = 0;      // rows sent by this run
  double seconds = 0;
  double vectors_per_s = 0;
  double mb_per_s = 0;  // float32 vector bytes
};

// Creates the collection when missing, then upserts rows [committed, n) with id = row index.
absl::StatusOr<ScaleIngestResult> RunScaleIngest(const SyntheticOptions& data,
                                                 const ScaleIngestOptions& options);

struct ScaleTruthOptions {
  std::string out_dir;  // queries.npy, groundtruth.npy, truth.json, truth.ckpt while running
  uint32_t k = 100;
  uint64_t rows_per_chunk = 65536;
};

struct ScaleTruthResult {
  double seconds = 0;
  uint64_t full_rescans = 0;
};

// Streams the regenerated base past the queries once (plus a pass for any query whose float
// shortlist is not trusted) and writes the exact top-k.
absl::StatusOr<ScaleTruthResult> RunScaleTruth(const SyntheticOptions& data,
                                               const ScaleTruthOptions& options);

struct ScaleBuildOptions {
  ScaleServer target;
  uint32_t nlist = 0;            // 0 = the server's default
  uint32_t coarse_dims = 0;      // 0 = the server's default
  uint32_t search_dims = 0;      // 0 = the server's default
  uint32_t training_sample = 0;  // 0 = the server's default
};

struct ScaleBuildResult {
  bool already_ready = false;
  double ready_seconds = 0;
  double settled_seconds = 0;  // including the calibration the build starts
};

// Builds the collection's IVF and waits for it (and its calibration) to finish.
absl::StatusOr<ScaleBuildResult> RunScaleBuild(const ScaleBuildOptions& options);

struct ScalePlan {
  uint32_t nprobe = 0;
  uint32_t rerank_candidates = 0;
};

struct ScaleSearchOptions {
  ScaleServer target;
  std::string truth_dir;  // RunScaleTruth's out_dir
  std::vector<ScalePlan> plans;
  uint32_t k = 10;
  uint32_t queries = 0;  // 0 = every query in queries.npy
  int threads = 1;       // client threads, each with its own channel
  int repeat = 3;        // passes over every plan, interleaved (plan 1, plan 2, ..., again)
};

struct ScaleSearchPoint {
  ScalePlan plan;
  double recall = 0;  // |top-k ∩ true top-k| / k, averaged (the median pass's)
  // Medians over the passes, with the spread.
  double qps = 0, qps_min = 0, qps_max = 0;
  double p50_us = 0;
  double p99_us = 0, p99_us_min = 0, p99_us_max = 0;
  double vectors_fetched = 0;  // per query, from Cost
  double mflops = 0;           // per query, from Cost
};

// Every query of every plan once per pass, split over the client threads; recall against
// groundtruth.npy.
absl::StatusOr<std::vector<ScaleSearchPoint>> RunScaleSearch(const ScaleSearchOptions& options);

// "nprobe:rerank" (e.g. "128:400") -> ScalePlan; INVALID_ARGUMENT otherwise.
absl::StatusOr<ScalePlan> ParseScalePlan(const std::string& text);

}  // namespace adanns::bench
