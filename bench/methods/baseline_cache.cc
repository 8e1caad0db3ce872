#include "bench/methods/baseline_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "bench/harness/params.h"

namespace adanns::bench {
namespace {

// Bumped when what an entry holds changes meaning.
constexpr char kCacheFormat[] = "adanns-bench-baseline-cache v1";
constexpr size_t kEdgeBytes = 1 << 20;
constexpr uint64_t kSampledRows = 1024;

// FNV-1a, 64 bits: a checksum, not a defence against crafted collisions.
class Fnv1a {
 public:
  void Add(const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < bytes; ++i) {
      hash_ = (hash_ ^ p[i]) * 0x100000001b3ULL;
    }
  }
  void Add(const std::string& text) {
    Add(text.data(), text.size());
    Add("\0", 1);  // keeps ("ab", "c") apart from ("a", "bc")
  }
  uint64_t hash() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

// The first and last MB of the base, and rows spread evenly through it: cheap at 3 GB, and any
// regenerated or re-rotated set changes it.
void AddBaseSample(const FloatMatrix& base, Fnv1a& hash) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(base.values.data());
  const size_t total = base.values.size() * sizeof(float);
  const size_t edge = std::min(total, kEdgeBytes);
  hash.Add(bytes, edge);
  hash.Add(bytes + total - edge, edge);
  if (base.rows == 0) return;
  const uint64_t step = std::max<uint64_t>(1, base.rows / kSampledRows);
  for (uint64_t row = 0; row < base.rows; row += step) {
    hash.Add(base.row(row), base.cols * sizeof(float));
  }
}

}  // namespace

std::optional<BaselineCacheEntry> BaselineCacheEntry::For(const BenchData& data,
                                                          const std::string& method,
                                                          const Params& build,
                                                          const std::string& variant) {
  const char* dir = std::getenv(kBaselineCacheEnv);
  if (dir == nullptr || dir[0] == '\0') return std::nullopt;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  Fnv1a hash;
  hash.Add(kCacheFormat);
  hash.Add(data.name);
  hash.Add(
      absl::StrCat(data.base.rows, "x", data.base.cols, " metric ", static_cast<int>(data.metric)));
  AddBaseSample(data.base, hash);
  hash.Add(method);
  hash.Add(FormatParams(build));
  hash.Add(variant);
  char key[17];
  std::snprintf(key, sizeof(key), "%016llx", static_cast<unsigned long long>(hash.hash()));
  const std::string stem = (std::filesystem::path(dir) / absl::StrCat(method, "-", key)).string();
  return BaselineCacheEntry(absl::StrCat(stem, ".index"),
                            absl::StrCat(stem, ".index.tmp", getpid()),
                            absl::StrCat(stem, ".stats"));
}

bool BaselineCacheEntry::Exists() const {
  std::error_code error;
  return std::filesystem::is_regular_file(index_path_, error) &&
         std::filesystem::is_regular_file(stats_path_, error);
}

bool BaselineCacheEntry::LoadStats(BuildStats* stats) const {
  std::ifstream in(stats_path_);
  double train_s = 0;
  double encode_s = 0;
  std::string train_key;
  std::string encode_key;
  if (!(in >> train_key >> train_s >> encode_key >> encode_s) || train_key != "train_s" ||
      encode_key != "encode_s") {
    return false;
  }
  stats->train_s = train_s;
  stats->encode_s = encode_s;
  return true;
}

absl::Status BaselineCacheEntry::Commit(const BuildStats& stats) const {
  std::error_code error;
  std::filesystem::rename(temp_path_, index_path_, error);
  if (error) {
    std::filesystem::remove(temp_path_, error);
    return absl::InternalError(absl::StrCat("cache: cannot move ", temp_path_, " to ", index_path_,
                                            ": ", error.message()));
  }
  std::ofstream out(stats_path_);
  out.precision(17);
  out << "train_s " << stats.train_s << "\nencode_s " << stats.encode_s << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cache: cannot write ", stats_path_));
  return absl::OkStatus();
}

}  // namespace adanns::bench
