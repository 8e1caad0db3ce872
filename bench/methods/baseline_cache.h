// On-disk cache of built baseline indices, enabled by ADANNS_BENCH_CACHE=DIR: an entry is keyed
// by the data (name, shape, metric, a checksum of sampled base bytes), the method and its build.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "bench/harness/bench_data.h"
#include "bench/harness/method.h"

namespace adanns::bench {

// Environment variable naming the cache folder; unset or empty = no caching.
inline constexpr char kBaselineCacheEnv[] = "ADANNS_BENCH_CACHE";

// One cache entry: the index file (written by the method's own serializer) plus a small stats
// file with the original build's train/encode seconds.
class BaselineCacheEntry {
 public:
  // The entry for this build, or nullopt when caching is off. `variant` names anything else the
  // file depends on (library version, file format).
  static std::optional<BaselineCacheEntry> For(const BenchData& data, const std::string& method,
                                               const Params& build, const std::string& variant);

  // Where the index lives once committed.
  const std::string& index_path() const { return index_path_; }
  // Where to write the index before Commit (a crash never leaves a half file at index_path).
  const std::string& temp_path() const { return temp_path_; }
  // True when both files are present.
  bool Exists() const;
  // Copies the original train_s / encode_s into `stats`; false when the stats file is unreadable.
  bool LoadStats(BuildStats* stats) const;
  // Moves temp_path() into place and writes the stats file.
  absl::Status Commit(const BuildStats& stats) const;

 private:
  BaselineCacheEntry(std::string index_path, std::string temp_path, std::string stats_path)
      : index_path_(std::move(index_path)),
        temp_path_(std::move(temp_path)),
        stats_path_(std::move(stats_path)) {}

  std::string index_path_;
  std::string temp_path_;
  std::string stats_path_;
};

}  // namespace adanns::bench
