// API key file parsing and constant-time checks (see auth.h).
#include "server/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "base/text_file.h"

namespace adanns::server {
namespace {

constexpr std::string_view kBearer = "Bearer ";

// Equal-length comparison whose time does not depend on where the strings differ; strings of
// different lengths compare the candidate against itself so the work stays the same.
bool ConstantTimeEquals(std::string_view candidate, std::string_view key) {
  const std::string_view other = candidate.size() == key.size() ? key : candidate;
  unsigned char difference = candidate.size() == key.size() ? 0 : 1;
  for (size_t i = 0; i < candidate.size(); ++i) {
    difference |= static_cast<unsigned char>(candidate[i] ^ other[i]);
  }
  return difference == 0;
}

}  // namespace

absl::StatusOr<ApiKeys> ApiKeys::Load(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadTextFile(path, "API key"));
  return Parse(text);
}

absl::StatusOr<ApiKeys> ApiKeys::Parse(std::string_view text) {
  ApiKeys keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("API key file line ", line_number, ": expected \"KEY ROLE\""));
    }
    if (fields[0].size() < kMinApiKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat("API key file line ", line_number,
                                                     ": keys must be at least ", kMinApiKeyLength,
                                                     " characters"));
    }
    Role role;
    if (fields[1] == "read") {
      role = Role::kRead;
    } else if (fields[1] == "admin") {
      role = Role::kAdmin;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("API key file line ", line_number, ": role must be read or admin"));
    }
    keys.keys_.emplace_back(std::string(fields[0]), role);
  }
  if (keys.keys_.empty()) return absl::InvalidArgumentError("the API key file lists no key");
  return keys;
}

absl::Status ApiKeys::Check(std::string_view authorization, Role needed) const {
  if (authorization.substr(0, kBearer.size()) != kBearer) {
    return absl::UnauthenticatedError(
        "missing API key: send the metadata \"authorization: Bearer <key>\"");
  }
  const std::string_view candidate = authorization.substr(kBearer.size());
  bool found = false;
  Role role = Role::kRead;
  for (const auto& [key, key_role] : keys_) {  // no early exit: every key costs the same
    const bool match = ConstantTimeEquals(candidate, key);
    found |= match;
    if (match) role = key_role;
  }
  if (!found) return absl::UnauthenticatedError("unknown API key");
  if (needed == Role::kAdmin && role != Role::kAdmin) {
    return absl::PermissionDeniedError("this API key may only read (describe, list, get, search)");
  }
  return absl::OkStatus();
}

}  // namespace adanns::server
