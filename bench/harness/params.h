// Helpers for reading a method's named numeric parameters (build or search points of a grid):
// typed getters with precise errors, and a check that no unknown key slipped in.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/harness/method.h"

namespace adanns::bench {

// INVALID_ARGUMENT naming the first key of `params` that is not in `known` (and listing those).
absl::Status CheckParamKeys(const Params& params, std::initializer_list<const char*> known,
                            const std::string& what);

// The value of `key` as a whole number in [min_value, max_value]; `fallback` when absent.
// INVALID_ARGUMENT when it is fractional or out of range.
absl::StatusOr<uint32_t> UintParam(const Params& params, const std::string& key, uint32_t fallback,
                                   uint32_t min_value, uint32_t max_value);

// "key=value key=value" with numbers in their shortest form (e.g. "search_dims=64 nprobe=8").
std::string FormatParams(const Params& params);

// The nlist every IVF method (ours and FAISS's) builds at by default, so that they compare at the
// same nlist: about 4 sqrt(N), rounded to a power of two (1024 for 60k), at most N.
uint32_t DefaultIvfNlist(uint64_t vectors);

// Shortest decimal text that reads back as the same double ("64", "0.5", "1e-07").
std::string FormatNumber(double value);

}  // namespace adanns::bench
