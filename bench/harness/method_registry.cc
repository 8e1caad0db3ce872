// The method registry (filled by static initialisers in bench/methods/) and the default batch
// search of a built index.
#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/harness/method.h"

namespace adanns::bench {
namespace {

// Function-local so that registrations from other translation units never see it unconstructed.
std::map<std::string, MethodFactory>& Registry() {
  static auto* registry = new std::map<std::string, MethodFactory>();
  return *registry;
}

}  // namespace

bool RegisterMethod(const std::string& name, MethodFactory factory) {
  return Registry().emplace(name, std::move(factory)).second;
}

absl::StatusOr<std::unique_ptr<Method>> CreateMethod(const std::string& name) {
  const auto it = Registry().find(name);
  if (it == Registry().end()) {
    return absl::NotFoundError(absl::StrCat("unknown method '", name,
                                            "' (known: ", absl::StrJoin(MethodNames(), ", "), ")"));
  }
  return it->second();
}

std::vector<std::string> MethodNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

void BuiltIndex::SearchBatch(const float* queries, size_t n, uint32_t k, int threads, int64_t* ids,
                             QueryWork* work) const {
  const size_t dim = query_dim();
  auto run_range = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) Search(queries + i * dim, k, ids + i * k, &work[i]);
  };
  const size_t workers = std::min<size_t>(std::max(threads, 1), n);
  if (workers <= 1) {
    run_range(0, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(workers);
  for (size_t t = 0; t < workers; ++t) {
    pool.emplace_back(run_range, n * t / workers, n * (t + 1) / workers);
  }
  for (std::thread& thread : pool) thread.join();
}

}  // namespace adanns::bench
