// API keys: who may call what. `--api_keys_file` holds one "KEY ROLE" per line (ROLE: read or
// admin; '#' starts a comment). Clients send "authorization: Bearer KEY" metadata. Keys are
// compared in constant time and never logged.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace adanns::server {

// read: describe, list, get, search. admin: everything, writes and index work included.
enum class Role { kRead, kAdmin };

// Keys shorter than this are refused: they would be guessable.
inline constexpr size_t kMinApiKeyLength = 16;

class ApiKeys {
 public:
  // INVALID_ARGUMENT naming the line for a malformed entry, a short key or an unknown role;
  // NOT_FOUND for an unreadable file; INVALID_ARGUMENT when no key is listed.
  static absl::StatusOr<ApiKeys> Load(const std::string& path);
  static absl::StatusOr<ApiKeys> Parse(std::string_view text);

  // The caller's "authorization" metadata value (empty when absent) against the role an RPC
  // needs: OK, UNAUTHENTICATED (no or unknown key) or PERMISSION_DENIED (a read key on an admin
  // RPC). Every key is compared, in time independent of where they differ.
  absl::Status Check(std::string_view authorization, Role needed) const;

  size_t size() const { return keys_.size(); }

 private:
  std::vector<std::pair<std::string, Role>> keys_;
};

}  // namespace adanns::server
