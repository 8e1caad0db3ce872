#include "index/query_drift.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/blob_io.h"
#include "index/reference_distance.h"

namespace adanns::index {
namespace {

constexpr char kMagic[8] = {'A', 'D', 'N', 'S', 'D', 'R', 'F', '1'};
constexpr uint32_t kFormatVersion = 1;

struct Moments {
  double mean = 0, sd = 0;
};

Moments MomentsOf(std::span<const double> values) {
  Moments moments;
  if (values.empty()) return moments;
  for (const double v : values) moments.mean += v;
  moments.mean /= double(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (const double v : values) squares += (v - moments.mean) * (v - moments.mean);
    moments.sd = std::sqrt(squares / double(values.size() - 1));
  }
  return moments;
}

}  // namespace

double DriftReference::NearestAnchor(std::span<const float> query) const {
  double best = std::numeric_limits<double>::infinity();
  for (size_t a = 0; a + prefix <= anchors.size(); a += prefix) {
    best = std::min(best, ReferenceDistance(query.data(), anchors.data() + a, prefix, metric));
  }
  return best;
}

DriftReference MakeDriftReference(const VectorTable& table, Metric metric,
                                  std::span<const float> queries, uint64_t seed) {
  DriftReference reference;
  reference.prefix = std::min(kDriftPrefix, table.resident_dims());
  reference.metric = metric;
  reference.vectors = table.size();
  std::vector<RowId> live;
  for (size_t r = 0; r < table.row_count(); ++r) {
    if (table.IsLive(static_cast<RowId>(r))) live.push_back(static_cast<RowId>(r));
  }
  std::mt19937_64 rng(seed);
  const size_t anchors = std::min<size_t>(kDriftAnchors, live.size());
  for (size_t i = 0; i < anchors; ++i) {
    std::swap(live[i], live[i + rng() % (live.size() - i)]);
    const size_t at = reference.anchors.size();
    reference.anchors.resize(at + reference.prefix);
    const float* row = table.RowPrefix(live[i], reference.prefix, reference.anchors.data() + at);
    if (row != reference.anchors.data() + at) {
      std::copy_n(row, reference.prefix, reference.anchors.data() + at);
    }
  }
  const size_t dim = table.dim();
  std::vector<double> distances;
  for (size_t q = 0; q + dim <= queries.size(); q += dim) {
    distances.push_back(reference.NearestAnchor(queries.subspan(q, dim)));
  }
  const Moments moments = MomentsOf(distances);
  reference.mean = moments.mean;
  reference.sd = moments.sd;
  reference.queries = static_cast<uint32_t>(distances.size());
  return reference;
}

std::optional<std::string> RecalibrationReason(const DriftReference& reference, uint64_t vectors,
                                               std::span<const double> recent) {
  if (double(vectors) > double(reference.vectors) * (1 + kGrowthFraction)) {
    return absl::StrCat("the collection grew from ", reference.vectors, " to ", vectors,
                        " vectors since the last calibration");
  }
  if (recent.size() < 2 || reference.queries < 2 || reference.anchors.empty()) return std::nullopt;
  const Moments now = MomentsOf(recent);
  const double shift = std::abs(now.mean - reference.mean);
  const double stderr_ = std::sqrt(reference.sd * reference.sd / reference.queries +
                                   now.sd * now.sd / double(recent.size()));
  if (shift > kDriftZ * stderr_ && shift > kDriftRelative * std::abs(reference.mean)) {
    return absl::StrFormat(
        "recent queries drifted: mean nearest-anchor distance %.4g against %.4g at calibration "
        "(z = %.1f)",
        now.mean, reference.mean, stderr_ > 0 ? shift / stderr_ : HUGE_VAL);
  }
  return std::nullopt;
}

std::string SerializeDriftReference(const DriftReference& reference) {
  std::string out(kMagic, sizeof(kMagic));
  AppendPod(out, kFormatVersion);
  AppendPod(out, reference.prefix);
  AppendPod(out, static_cast<uint8_t>(reference.metric));
  AppendPod(out, reference.mean);
  AppendPod(out, reference.sd);
  AppendPod(out, reference.queries);
  AppendPod(out, reference.vectors);
  AppendPod(out, static_cast<uint64_t>(reference.anchors.size()));
  out.append(reinterpret_cast<const char*>(reference.anchors.data()),
             reference.anchors.size() * sizeof(float));
  SealBlob(out);
  return out;
}

absl::StatusOr<DriftReference> DeserializeDriftReference(std::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("drift reference blob rejected: ", why));
  };
  auto body = OpenBlob(bytes, kMagic, "drift reference");
  if (!body.ok()) return body.status();
  BlobReader reader(*body);
  DriftReference reference;
  uint32_t version = 0;
  uint8_t metric = 0;
  uint64_t floats = 0;
  if (!reader.Get(&version) || version != kFormatVersion) return corrupt("unknown format version");
  if (!reader.Get(&reference.prefix) || !reader.Get(&metric) || !reader.Get(&reference.mean) ||
      !reader.Get(&reference.sd) || !reader.Get(&reference.queries) ||
      !reader.Get(&reference.vectors) || !reader.Get(&floats) ||
      !reader.GetFloats(floats, &reference.anchors) || !reader.done()) {
    return corrupt("truncated");
  }
  if (reference.prefix == 0 || floats % reference.prefix != 0) return corrupt("bad anchors");
  if (metric < 1 || metric > 3) return corrupt("unknown metric");
  reference.metric = static_cast<Metric>(metric);
  return reference;
}

}  // namespace adanns::index
