// Column family options, each with why (see column_family_options.h).
#include "storage/column_family_options.h"

#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace adanns::storage {

// Column families other than vectors: small (metadata) or read once at startup (index blobs). They
// share the block cache so that one number bounds, and one set of counters describes, RocksDB's
// read memory; their lookups are rare, so they get no filter.
rocksdb::ColumnFamilyOptions SmallColumnFamilyOptions(
    const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  rocksdb::ColumnFamilyOptions options;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// The vectors column family serves the re-rank stage's point lookups of full rows (a 768-dim row
// is 3 KiB). Changing table options is safe for existing data: they apply to files as they are
// written, and files written with other options (no filter, other block size) stay readable.
rocksdb::ColumnFamilyOptions VectorsColumnFamilyOptions(
    const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  // One LRU cache for the whole store: hot rows stay in memory, within block_cache_bytes.
  table.block_cache = cache;
  // Whole-key bloom filter, 10 bits/key (~1% false positives): a lookup of a deleted or absent id
  // skips the data block read in nearly every file that lacks the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;  // lookups are by whole key; no prefix extractor is set
  // Index and filter blocks live in the block cache, so their memory is bounded by and counted in
  // block_cache_bytes instead of growing with the data outside any limit.
  table.cache_index_and_filter_blocks = true;
  // ... and those of L0 files (hit by every lookup, recently flushed) stay pinned there, so a burst
  // of data blocks cannot evict them and turn each lookup into extra reads.
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Blocks of about one 4 KiB page, and a row of >= ~2.9 KiB (720+ dims) alone in its block: a
  // missed lookup then reads one page-sized block (one I/O, also under O_DIRECT) and the cache
  // holds only requested rows. With RocksDB's default 10% deviation, a 4 KiB block takes a
  // second 3 KiB row (a 6 KiB block: twice the bytes read and cached per random lookup, measured
  // on this RocksDB); 30% closes a block once it is past 2.9 KiB and the next row would overflow
  // it. Smaller rows share a block (up to 4 KiB: 7 rows of 128 dims), keeping the index small.
  // Measured index cost with 768 dims: 24 bytes per row, plus 1.25 bytes of filter.
  table.block_size = 4 * 1024;
  table.block_size_deviation = 30;
  rocksdb::ColumnFamilyOptions options;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // optimize_filters_for_hits stays off: it drops the bottommost level's filters, and misses are
  // real here (deleted ids, dropped collections), which would then each cost a block read.
  options.optimize_filters_for_hits = false;
  // Vectors are float32 rows: block compression (snappy by default) finds next to nothing to save
  // in them and costs a pass over every byte at each flush, compaction and cache miss.
  options.compression = rocksdb::kNoCompression;
  return options;
}

}  // namespace adanns::storage
