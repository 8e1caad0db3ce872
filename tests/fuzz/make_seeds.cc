// Writes the seed corpora of the fuzz targets: valid blobs of the fuzz world's indexes and
// calibration, and typical v1 requests (a type byte, then the proto). Run once after a format
// change: make_fuzz_seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "adanns/v1/adanns.pb.h"
#include "tests/fuzz/fuzz_world.h"

namespace adanns::fuzz {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

void WriteRequest(const fs::path& dir, const std::string& name, char kind,
                  const google::protobuf::Message& message) {
  std::string bytes(1, kind);
  bytes += message.SerializeAsString();
  Write(dir, name, bytes);
}

void WriteRequests(const fs::path& dir) {
  const FuzzWorld& world = World();
  v1::SearchRequest search;
  search.set_collection("c");
  search.set_k(10);
  for (uint32_t j = 0; j < kDim; ++j) search.add_query(world.table.RowData(5)[j]);
  WriteRequest(dir, "search-auto", 0, search);
  search.mutable_budget()->set_target_recall(0.9f);
  WriteRequest(dir, "search-recall", 0, search);
  search.mutable_budget()->set_max_mflops(0.002);
  search.mutable_budget()->set_max_dims(4);
  WriteRequest(dir, "search-mflops", 0, search);
  const char* kinds[] = {"flat", "ivf", "hnsw", "opq", "ivf_opq"};
  for (const char* kind : kinds) {
    v1::Plan* plan = search.mutable_budget()->mutable_plan();
    plan->set_index(kind);
    plan->set_search_dims(4);
    plan->set_rerank_dims(8);
    plan->set_rerank_candidates(20);
    WriteRequest(dir, std::string("search-plan-") + kind, 0, search);
  }
  v1::SearchBatchRequest batch;
  batch.set_collection("c");
  batch.set_query_dims(4);
  batch.set_k(3);
  for (uint32_t j = 0; j < 12; ++j) batch.add_queries(world.table.RowData(7)[j % kDim]);
  batch.mutable_budget()->mutable_plan()->set_index("ivf");
  batch.mutable_budget()->mutable_plan()->set_nprobe(2);
  batch.mutable_budget()->mutable_plan()->set_coarse_dims(2);
  WriteRequest(dir, "batch-ivf", 1, batch);
  v1::UpsertRequest upsert;
  upsert.set_collection("c");
  for (int i = 0; i < 2; ++i) {
    v1::Vector* v = upsert.add_vectors();
    v->set_id(i);
    for (uint32_t j = 0; j < kDim; ++j) v->add_values(0.5f * j);
  }
  WriteRequest(dir, "upsert", 2, upsert);
  v1::CreateCollectionRequest create;
  create.set_name("c");
  create.set_dim(64);
  create.set_metric(v1::COSINE);
  for (uint32_t d : {8u, 16u, 64u}) create.add_nesting_dims(d);
  WriteRequest(dir, "create", 3, create);
  v1::BuildIndexRequest build;
  build.set_collection("c");
  build.mutable_ivf()->set_nlist(8);
  build.mutable_ivf()->set_coarse_dims(4);
  build.mutable_opq()->add_codebooks()->set_m(8);
  build.mutable_opq()->mutable_codebooks(0)->set_prefix_dims(8);
  WriteRequest(dir, "build-ivf-opq", 4, build);
  build.mutable_hnsw()->set_m(8);
  build.mutable_hnsw()->set_graph_dims(4);
  WriteRequest(dir, "build-hnsw-opq", 4, build);
  v1::UpdateCollectionRequest update;
  update.set_name("c");
  update.mutable_default_budget()->mutable_plan()->set_index("hnsw");
  update.mutable_default_budget()->mutable_plan()->set_ef(20);
  WriteRequest(dir, "update-hnsw", 5, update);
}

}  // namespace
}  // namespace adanns::fuzz

int main(int argc, char** argv) {
  using namespace adanns;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const fuzz::FuzzWorld& world = fuzz::World();
  fuzz::Write(root / "ivf_blob_fuzzer", "valid", *world.ivf->Serialize());
  fuzz::Write(root / "hnsw_blob_fuzzer", "valid", *world.hnsw->Serialize());
  fuzz::Write(root / "opq_blob_fuzzer", "valid", *world.opq->Serialize());
  fuzz::Write(root / "calibration_blob_fuzzer", "valid",
              index::SerializeCalibration(world.calibration));
  fuzz::WriteRequests(root / "request_fuzzer");
  std::printf("seed corpora written under %s\n", argv[1]);
  return 0;
}
