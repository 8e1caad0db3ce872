// RocksDB statuses as absl ones: the code mapping every storage call uses (a full disk is
// RESOURCE_EXHAUSTED, corruption DATA_LOSS, other I/O failures UNAVAILABLE).
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace adanns::storage {

absl::StatusCode MapCode(const rocksdb::Status& status);
// OK, or the mapped code with "rocksdb <context>: <RocksDB's message>".
absl::Status FromRocks(const rocksdb::Status& status, absl::string_view context);

}  // namespace adanns::storage
