#include "server/collection_info_merge.h"

#include <algorithm>
#include <map>
#include <string>

namespace adanns::server {
namespace {

// The aggregate of one state across shards: "failed" beats the running state, which beats the
// rest (the first shard's).
std::string MergedState(const std::string& so_far, const std::string& next,
                        const std::string& running) {
  if (so_far == "failed" || next == "failed") return "failed";
  if (so_far == running || next == running) return running;
  return so_far;
}

void MergeIndex(const v1::IndexInfo& next, v1::IndexInfo* merged) {
  merged->set_state(MergedState(merged->state(), next.state(), "building"));
  if (merged->error().empty()) merged->set_error(next.error());
  merged->set_progress(merged->progress() + next.progress());  // divided by the count at the end
  merged->set_memory_bytes(merged->memory_bytes() + next.memory_bytes());
  merged->set_build_seconds(std::max(merged->build_seconds(), next.build_seconds()));
  merged->set_vectors_added_since_build(merged->vectors_added_since_build() +
                                        next.vectors_added_since_build());
  merged->set_rebuild_advised(merged->rebuild_advised() || next.rebuild_advised());
}

}  // namespace

void MergeCollectionInfos(const std::vector<const v1::CollectionInfo*>& shards,
                          v1::CollectionInfo* out) {
  if (shards.empty()) return;
  *out = *shards.front();
  out->clear_indexes();
  out->clear_memory();
  out->set_vector_count(0);
  out->set_vector_memory_bytes(0);
  std::map<std::string, v1::IndexInfo> indexes;  // by name, in the first shard's order below
  std::map<std::string, size_t> holders;
  std::vector<std::string> order;
  std::map<std::string, v1::MemoryComponent> memory;
  std::vector<std::string> memory_order;
  v1::CalibrationInfo* calibration = out->mutable_calibration();
  double calibration_progress = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const v1::CollectionInfo& shard = *shards[i];
    out->set_vector_count(out->vector_count() + shard.vector_count());
    out->set_vector_memory_bytes(out->vector_memory_bytes() + shard.vector_memory_bytes());
    for (const v1::IndexInfo& index : shard.indexes()) {
      auto [slot, added] = indexes.try_emplace(index.name(), index);
      if (added) {
        order.push_back(index.name());
      } else {
        MergeIndex(index, &slot->second);
      }
      ++holders[index.name()];
    }
    for (const v1::MemoryComponent& component : shard.memory()) {
      auto [slot, added] = memory.try_emplace(component.name(), component);
      if (added) {
        memory_order.push_back(component.name());
      } else {
        slot->second.set_bytes(slot->second.bytes() + component.bytes());
      }
    }
    if (i > 0) {
      calibration->set_state(
          MergedState(calibration->state(), shard.calibration().state(), "calibrating"));
      if (calibration->error().empty()) calibration->set_error(shard.calibration().error());
    }
    calibration_progress += shard.calibration().progress();
  }
  const double n = static_cast<double>(shards.size());
  calibration->set_progress(calibration_progress / n);
  for (const std::string& name : order) {
    v1::IndexInfo& index = indexes[name];
    index.set_progress(index.progress() / static_cast<double>(holders[name]));
    if (holders[name] < shards.size() && index.state() != "failed") index.set_state("partial");
    *out->add_indexes() = std::move(index);
  }
  for (const std::string& name : memory_order) {
    v1::MemoryComponent& component = memory[name];
    component.set_bytes_per_vector(out->vector_count() == 0
                                       ? 0
                                       : static_cast<double>(component.bytes()) /
                                             static_cast<double>(out->vector_count()));
    *out->add_memory() = std::move(component);
  }
}

}  // namespace adanns::server
