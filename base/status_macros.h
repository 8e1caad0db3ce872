// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr (Abseil 20220623 has
// none). Used by every module; the macros only need absl/status.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ADANNS_CONCAT_INNER(a, b) a##b
#define ADANNS_CONCAT(a, b) ADANNS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)               \
  do {                                      \
    ::absl::Status adanns_status_ = (expr); \
    if (!adanns_status_.ok()) {             \
      return adanns_status_;                \
    }                                       \
  } while (false)

#define ADANNS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) {                                   \
    return tmp.status();                             \
  }                                                  \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ADANNS_ASSIGN_OR_RETURN_IMPL(ADANNS_CONCAT(adanns_statusor_, __LINE__), lhs, expr)
