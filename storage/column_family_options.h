// How each column family is tuned: the vectors one for the re-rank's point lookups of full rows,
// the others (metadata, index blobs) small; all on one shared block cache.
#pragma once

#include <memory>

#include "rocksdb/cache.h"
#include "rocksdb/options.h"

namespace adanns::storage {

rocksdb::ColumnFamilyOptions SmallColumnFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache);
rocksdb::ColumnFamilyOptions VectorsColumnFamilyOptions(
    const std::shared_ptr<rocksdb::Cache>& cache);

}  // namespace adanns::storage
