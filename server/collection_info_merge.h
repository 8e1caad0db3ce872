// A sharded collection's CollectionInfo from its shards' (the router's DescribeCollection): counts
// and memory summed, each index's and the calibration's state and progress aggregated, so that a
// client waiting for "ready" waits for every shard.
#pragma once

#include <vector>

#include "adanns/v1/adanns.pb.h"

namespace adanns::server {

// `shards`: the infos of the shards that answered (at least one), in shard order. The spec fields
// (name, dim, metric, nesting dims, storage, default budget) are the first's; vector_count,
// vector_memory_bytes, memory components and index memory are summed; an index (by name) or the
// calibration is "failed" when any shard's is (its error kept), else "building"/"calibrating"
// while any shard's is, else the first's state; progress is the mean over the shards. An index
// only some shards hold is listed with state "partial" (a build that failed or was dropped on
// some). `out->shards` is left to the caller.
void MergeCollectionInfos(const std::vector<const v1::CollectionInfo*>& shards,
                          v1::CollectionInfo* out);

}  // namespace adanns::server
