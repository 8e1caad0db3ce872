// The router's aggregate of its shards' CollectionInfo: sums, and states a client can wait on.
#include "server/collection_info_merge.h"

#include "gtest/gtest.h"

namespace adanns::server {
namespace {

v1::CollectionInfo Shard(uint64_t vectors, const std::string& ivf_state, double ivf_progress,
                         const std::string& calibration_state) {
  v1::CollectionInfo info;
  info.set_name("docs");
  info.set_dim(8);
  info.set_vector_count(vectors);
  info.set_vector_memory_bytes(vectors * 32);
  v1::IndexInfo* ivf = info.add_indexes();
  ivf->set_name("ivf");
  ivf->set_state(ivf_state);
  ivf->set_progress(ivf_progress);
  ivf->set_memory_bytes(100);
  v1::MemoryComponent* table = info.add_memory();
  table->set_name("table");
  table->set_bytes(vectors * 32);
  info.mutable_calibration()->set_state(calibration_state);
  return info;
}

TEST(CollectionInfoMergeTest, CountsAndMemoryAreSummed) {
  const v1::CollectionInfo a = Shard(10, "ready", 1, "ready");
  const v1::CollectionInfo b = Shard(30, "ready", 1, "ready");
  v1::CollectionInfo merged;
  MergeCollectionInfos({&a, &b}, &merged);
  EXPECT_EQ(merged.name(), "docs");
  EXPECT_EQ(merged.vector_count(), 40u);
  EXPECT_EQ(merged.vector_memory_bytes(), 40u * 32);
  ASSERT_EQ(merged.indexes_size(), 1);
  EXPECT_EQ(merged.indexes(0).state(), "ready");
  EXPECT_EQ(merged.indexes(0).memory_bytes(), 200u);
  ASSERT_EQ(merged.memory_size(), 1);
  EXPECT_EQ(merged.memory(0).bytes(), 40u * 32);
  EXPECT_DOUBLE_EQ(merged.memory(0).bytes_per_vector(), 32);
  EXPECT_EQ(merged.calibration().state(), "ready");
}

TEST(CollectionInfoMergeTest, ABuildIsReadyOnlyWhenEveryShardsIs) {
  const v1::CollectionInfo a = Shard(10, "ready", 1, "ready");
  const v1::CollectionInfo b = Shard(10, "building", 0.5, "calibrating");
  v1::CollectionInfo merged;
  MergeCollectionInfos({&a, &b}, &merged);
  EXPECT_EQ(merged.indexes(0).state(), "building");
  EXPECT_DOUBLE_EQ(merged.indexes(0).progress(), 0.75);
  EXPECT_EQ(merged.calibration().state(), "calibrating");

  v1::CollectionInfo failed = Shard(10, "failed", 0.2, "failed");
  failed.mutable_indexes(0)->set_error("out of memory");
  MergeCollectionInfos({&b, &failed}, &merged);
  EXPECT_EQ(merged.indexes(0).state(), "failed");
  EXPECT_EQ(merged.indexes(0).error(), "out of memory");
  EXPECT_EQ(merged.calibration().state(), "failed");
}

TEST(CollectionInfoMergeTest, AnIndexOnlySomeShardsHoldIsPartial) {
  const v1::CollectionInfo a = Shard(10, "ready", 1, "ready");
  v1::CollectionInfo bare = Shard(10, "ready", 1, "ready");
  bare.clear_indexes();
  v1::CollectionInfo merged;
  MergeCollectionInfos({&bare, &a}, &merged);
  ASSERT_EQ(merged.indexes_size(), 1);
  EXPECT_EQ(merged.indexes(0).state(), "partial");
}

}  // namespace
}  // namespace adanns::server
