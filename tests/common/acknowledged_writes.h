// Bookkeeping of the writes a store acknowledged, checked after a crash or a power cut: every
// acknowledged upsert back with identical bytes, every acknowledged delete gone, and every write
// in flight at the crash applied whole or not at all. Knows no store: callers fetch the vectors.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace adanns::testing {

// The contents a test writes for `id` at `version`: deterministic, so a check can recompute it.
inline std::vector<float> VectorFor(uint64_t id, uint32_t version, uint32_t dim) {
  std::vector<float> v(dim);
  std::mt19937 rng(static_cast<uint32_t>(id * 31 + version));
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (float& x : v) x = uniform(rng);
  return v;
}

inline bool SameBytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One atomic write: every id set to `version` (an upsert message) or removed (nullopt, a delete).
struct Write {
  std::vector<uint64_t> ids;
  std::optional<uint32_t> version;

  // Row-major values of an upsert.
  std::vector<float> Values(uint32_t dim) const {
    std::vector<float> values;
    values.reserve(ids.size() * dim);
    for (uint64_t id : ids) {
      const std::vector<float> row = VectorFor(id, *version, dim);
      values.insert(values.end(), row.begin(), row.end());
    }
    return values;
  }
};

// What a check found. Everything but `acknowledged` and `in_flight_landed` must be zero.
struct CheckReport {
  size_t acknowledged = 0;      // ids an acknowledged upsert left present
  size_t lost = 0;              // of those, missing or holding other bytes
  size_t resurrected = 0;       // ids whose acknowledged delete was undone
  size_t half_applied = 0;      // in-flight writes found partly applied
  size_t in_flight_landed = 0;  // in-flight writes found whole
  size_t in_flight = 0;         // in-flight writes checked
  std::string first_error;

  bool clean() const { return lost == 0 && resurrected == 0 && half_applied == 0; }
};

// Thread-safe; writers must touch disjoint ids while their writes may be in flight together.
class AcknowledgedWrites {
 public:
  explicit AcknowledgedWrites(uint32_t dim) : dim_(dim) {}

  void Acknowledge(const Write& write) {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : write.ids) expected_[id] = write.version;
  }
  // Sent, but no answer came (the server died or the power went off).
  void InFlight(const Write& write) {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.push_back(write);
  }

  // Every id a write touched: what a check needs fetched.
  std::vector<uint64_t> TouchedIds() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<uint64_t> ids;
    for (const auto& [id, version] : expected_) ids.insert(id);
    for (const Write& write : in_flight_) ids.insert(write.ids.begin(), write.ids.end());
    return {ids.begin(), ids.end()};
  }

  // Compares `stored` (each touched id the store holds, with its values) with the ledger, then
  // takes in-flight writes as they were found, so the next check expects them.
  CheckReport Check(const std::map<uint64_t, std::vector<float>>& stored) {
    std::lock_guard<std::mutex> lock(mu_);
    CheckReport report;
    std::set<uint64_t> uncertain;
    for (const Write& write : in_flight_) uncertain.insert(write.ids.begin(), write.ids.end());
    for (const auto& [id, version] : expected_) {
      if (uncertain.contains(id)) continue;
      if (version) ++report.acknowledged;
      if (Holds(stored, id, version)) continue;
      ++(version ? report.lost : report.resurrected);
      Note(report, id, version ? "acknowledged upsert lost or changed" : "deleted id is back");
    }
    for (const Write& write : in_flight_) {
      size_t applied = 0;
      size_t unapplied = 0;
      for (uint64_t id : write.ids) {
        auto it = expected_.find(id);
        applied += Holds(stored, id, write.version);
        unapplied += it == expected_.end() ? !stored.contains(id) : Holds(stored, id, it->second);
      }
      ++report.in_flight;
      if (applied == write.ids.size()) {
        ++report.in_flight_landed;
        for (uint64_t id : write.ids) expected_[id] = write.version;
      } else if (unapplied != write.ids.size()) {
        ++report.half_applied;
        Note(report, write.ids.front(), "in-flight write half applied");
      }
    }
    in_flight_.clear();
    return report;
  }

  // Ids acknowledged present now.
  std::vector<uint64_t> PresentIds() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<uint64_t> ids;
    for (const auto& [id, version] : expected_) {
      if (version) ids.push_back(id);
    }
    return ids;
  }

 private:
  // Whether `stored` agrees with `version` for `id` (nullopt: absent).
  bool Holds(const std::map<uint64_t, std::vector<float>>& stored, uint64_t id,
             std::optional<uint32_t> version) const {
    auto it = stored.find(id);
    if (!version) return it == stored.end();
    return it != stored.end() && SameBytes(it->second, VectorFor(id, *version, dim_));
  }
  static void Note(CheckReport& report, uint64_t id, const char* what) {
    if (!report.first_error.empty()) return;
    std::ostringstream text;
    text << what << " (id " << id << ")";
    report.first_error = text.str();
  }

  const uint32_t dim_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::optional<uint32_t>> expected_;  // id -> version; nullopt = deleted
  std::vector<Write> in_flight_;
};

}  // namespace adanns::testing
