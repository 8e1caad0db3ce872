// Unary calls of the reliability tests (see server_calls.h).
#include "tests/reliability/server_calls.h"

#include <functional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"

namespace adanns::testing {
namespace {

constexpr std::chrono::seconds kDeadline{30};

// A context whose call gives up after kDeadline.
struct BoundedContext {
  BoundedContext() { context.set_deadline(std::chrono::system_clock::now() + kDeadline); }
  grpc::ClientContext context;
};

// The ids of the k best hits for `query` under `plan`; false on an RPC error.
bool SearchIds(v1::Adanns::Stub& stub, const std::string& collection,
               const std::vector<float>& query, const v1::Plan& plan, std::set<uint64_t>* ids) {
  v1::SearchRequest request;
  request.set_collection(collection);
  request.set_k(10);
  request.mutable_query()->Add(query.begin(), query.end());
  *request.mutable_budget()->mutable_plan() = plan;
  v1::SearchResponse response;
  BoundedContext bounded;
  if (!stub.Search(&bounded.context, request, &response).ok()) return false;
  for (const v1::Hit& hit : response.hits()) ids->insert(hit.id());
  return true;
}

}  // namespace

grpc::Status CreateCollection(v1::Adanns::Stub& stub, const std::string& name, uint32_t dim,
                              const v1::StorageOptions& storage) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  request.set_dim(dim);
  request.set_metric(v1::L2);
  *request.mutable_storage() = storage;
  v1::CollectionInfo info;
  BoundedContext bounded;
  return stub.CreateCollection(&bounded.context, request, &info);
}

grpc::Status Describe(v1::Adanns::Stub& stub, const std::string& name, v1::CollectionInfo* info) {
  v1::DescribeCollectionRequest request;
  request.set_name(name);
  BoundedContext bounded;
  return stub.DescribeCollection(&bounded.context, request, info);
}

grpc::Status BuildIvf(v1::Adanns::Stub& stub, const std::string& collection, uint32_t nlist,
                      uint64_t seed, uint32_t kmeans_iterations) {
  v1::BuildIndexRequest request;
  request.set_collection(collection);
  request.mutable_ivf()->set_nlist(nlist);
  request.mutable_ivf()->set_seed(seed);
  request.mutable_ivf()->set_kmeans_iterations(kmeans_iterations);
  v1::BuildIndexResponse response;
  BoundedContext bounded;
  return stub.BuildIndex(&bounded.context, request, &response);
}

grpc::Status Calibrate(v1::Adanns::Stub& stub, const std::string& collection, uint32_t queries,
                       uint64_t seed) {
  v1::CalibrateRequest request;
  request.set_collection(collection);
  request.set_queries(queries);
  request.set_seed(seed);
  v1::CalibrationInfo response;
  BoundedContext bounded;
  return stub.Calibrate(&bounded.context, request, &response);
}

std::string IndexState(const v1::CollectionInfo& info, const std::string& name) {
  for (const v1::IndexInfo& index : info.indexes()) {
    if (index.name() == name) return index.state();
  }
  return "";
}

namespace {

// Polls `state_of` (a collection's description -> a state) until it is not `running`, bounded by
// `timeout`; returns the last state.
std::string WaitWhile(v1::Adanns::Stub& stub, const std::string& collection,
                      const std::string& running, std::chrono::seconds timeout,
                      const std::function<std::string(const v1::CollectionInfo&)>& state_of) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  std::string state;
  do {
    v1::CollectionInfo info;
    if (!Describe(stub, collection, &info).ok()) return "unreachable";
    state = state_of(info);
    if (state != running) return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < give_up);
  return state;
}

}  // namespace

std::string WaitForIndex(v1::Adanns::Stub& stub, const std::string& collection,
                         const std::string& name, std::chrono::seconds timeout) {
  return WaitWhile(stub, collection, "building", timeout,
                   [&](const v1::CollectionInfo& info) { return IndexState(info, name); });
}

std::string WaitForCalibration(v1::Adanns::Stub& stub, const std::string& collection,
                               std::chrono::seconds timeout) {
  return WaitWhile(stub, collection, "calibrating", timeout,
                   [](const v1::CollectionInfo& info) { return info.calibration().state(); });
}

double IvfRecall(v1::Adanns::Stub& stub, const std::string& collection, uint32_t dim,
                 uint32_t nprobe, int queries, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  // Both re-rank kRerankCandidates at the full dim: the flat plan is then exact on a collection
  // held whole, and on a tiered one the funnel from the same prefix the IVF's lists hold, so the
  // recall measures the IVF's probing, not what the prefix can tell.
  constexpr uint32_t kRerankCandidates = 1000;
  v1::Plan exact;
  exact.set_index("flat");
  exact.set_rerank_candidates(kRerankCandidates);
  v1::Plan ivf;
  ivf.set_index("ivf");
  ivf.set_nprobe(nprobe);
  ivf.set_rerank_candidates(kRerankCandidates);
  double recall = 0;
  for (int q = 0; q < queries; ++q) {
    std::vector<float> query(dim);
    for (float& x : query) x = uniform(rng);
    std::set<uint64_t> truth;
    std::set<uint64_t> found;
    if (!SearchIds(stub, collection, query, exact, &truth) ||
        !SearchIds(stub, collection, query, ivf, &found) || truth.empty()) {
      return -1;
    }
    size_t hits = 0;
    for (uint64_t id : found) hits += truth.count(id);
    recall += static_cast<double>(hits) / truth.size();
  }
  return recall / queries;
}

}  // namespace adanns::testing
