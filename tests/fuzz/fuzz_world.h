// The fixed, deterministic collection every fuzz target works on: a small vector table with an
// IVF, an HNSW graph, an OPQ codebook and a calibration built once. Seed blobs are made from it
// (tests/fuzz/make_seeds.cc), so a target deserializes them against the same table.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/blob_io.h"
#include "index/calibration.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "index/plan_chooser.h"
#include "index/vector_table.h"
#include "quant/opq_index.h"

namespace adanns::fuzz {

// A fuzz target's invariant; a violation aborts so libFuzzer and the replay both report it.
#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

inline constexpr uint32_t kDim = 8;
inline constexpr size_t kVectors = 256;  // OPQ trains 256 centroids per sub-space
inline constexpr Metric kMetric = Metric::kL2;
inline constexpr uint32_t kNesting[] = {2, 4, 8};

struct FuzzWorld {
  index::VectorTable table{kDim};
  std::unique_ptr<index::IvfIndex> ivf;
  std::unique_ptr<index::HnswIndex> hnsw;
  std::unique_ptr<quant::OpqIndex> opq;
  index::Calibration calibration;
  std::vector<const index::ServedIndex*> ready;

  index::CollectionShape shape() const { return {kDim, kNesting, table.size()}; }
};

inline std::unique_ptr<FuzzWorld> BuildWorld() {
  auto world = std::make_unique<FuzzWorld>();
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> row(kDim);
  for (size_t i = 0; i < kVectors; ++i) {
    for (float& x : row) x = normal(rng);
    world->table.Upsert(i * 3 + 1, row);
  }
  index::IvfBuildParams ivf;
  ivf.nlist = 8;
  ivf.coarse_dims = 4;
  ivf.kmeans_iterations = 5;
  auto built_ivf = index::IvfIndex::Build(world->table, kMetric, ivf);
  index::HnswBuildParams hnsw;
  hnsw.graph_dims = 4;
  hnsw.m = 4;
  hnsw.ef_construction = 32;
  auto built_hnsw = index::HnswIndex::Build(world->table, kMetric, hnsw, 1);
  quant::OpqBuildParams opq;
  opq.spec = {kDim, 8};
  opq.opq_iterations = 2;
  auto built_opq = quant::OpqIndex::Build(world->table, kMetric, opq);
  FUZZ_CHECK(built_ivf.ok() && built_hnsw.ok() && built_opq.ok());
  world->ivf = std::move(*built_ivf);
  world->hnsw = std::move(*built_hnsw);
  world->opq = std::move(*built_opq);
  world->ready = {world->ivf.get(), world->hnsw.get(), world->opq.get()};
  index::CalibrationOptions options;
  options.queries = 16;
  options.ks = {1, 10};
  auto calibration = index::Calibrate(world->table, kMetric, world->ready, world->shape(), options);
  FUZZ_CHECK(calibration.ok());
  world->calibration = std::move(*calibration);
  return world;
}

// Built on first use and kept for the process (libFuzzer runs millions of inputs).
inline const FuzzWorld& World() {
  static const FuzzWorld* world = BuildWorld().release();
  return *world;
}

// The blob with its trailing CRC-32 recomputed, so a mutation reaches the structural checks
// behind the checksum (see base/blob_io.h: magic, body, CRC of both).
inline std::string Resealed(std::string_view bytes) {
  std::string out(bytes);
  if (out.size() < sizeof(uint32_t)) return out;
  out.resize(out.size() - sizeof(uint32_t));
  SealBlob(out);
  return out;
}

}  // namespace adanns::fuzz
