// MapCode / FromRocks: one table from RocksDB's status codes to absl's.
#include "storage/rocks_status.h"

#include "absl/strings/str_cat.h"

namespace adanns::storage {

absl::StatusCode MapCode(const rocksdb::Status& status) {
  using Code = rocksdb::Status::Code;
  switch (status.code()) {
    case Code::kOk:
      return absl::StatusCode::kOk;
    case Code::kNotFound:
      return absl::StatusCode::kNotFound;
    case Code::kCorruption:
      return absl::StatusCode::kDataLoss;
    case Code::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case Code::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case Code::kIOError:
      // A full disk is an exhausted resource; other I/O failures leave the store unusable now.
      if (status.subcode() == rocksdb::Status::kNoSpace) {
        return absl::StatusCode::kResourceExhausted;
      }
      return absl::StatusCode::kUnavailable;
    case Code::kTimedOut:
    case Code::kExpired:
      return absl::StatusCode::kDeadlineExceeded;
    case Code::kAborted:
      return absl::StatusCode::kAborted;
    case Code::kIncomplete:
    case Code::kShutdownInProgress:
    case Code::kBusy:
    case Code::kTryAgain:
      return absl::StatusCode::kUnavailable;
    case Code::kCompactionTooLarge:
      return absl::StatusCode::kResourceExhausted;
    case Code::kColumnFamilyDropped:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(MapCode(status), absl::StrCat("rocksdb ", context, ": ", status.ToString()));
}

}  // namespace adanns::storage
