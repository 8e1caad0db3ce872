// A codebook's spec and name ("opq128x16"): the words the CLI, the server and quant/ share,
// header-only so the CLI parses specs without linking FAISS.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace adanns {

// 8-bit sub-quantizers: 256 centroids each.
inline constexpr uint32_t kCentroidsPerSubspace = 256;
// M is a multiple of this, up to kMaxSubquantizers (what the ADC kernels take).
inline constexpr uint32_t kSubquantizerStep = 8;
inline constexpr uint32_t kMaxSubquantizers = 64;

// Which prefix a codebook covers and how many bytes a code has.
struct CodebookSpec {
  uint32_t prefix_dims = 0;
  uint32_t m = 0;
};

// "opq<prefix_dims>x<m>", the name the codebook is served under (e.g. "opq128x16").
// ParseCodebookSpec reads "128x16" or "opq128x16" (INVALID_ARGUMENT otherwise; the ranges are
// ValidateCodebookSpec's: m a multiple of 8 in 8..64, prefix_dims in 1..dim and a multiple of m).
inline std::string CodebookName(const CodebookSpec& spec) {
  return absl::StrCat("opq", spec.prefix_dims, "x", spec.m);
}

inline absl::StatusOr<CodebookSpec> ParseCodebookSpec(std::string_view text) {
  const std::string_view original = text;
  if (text.substr(0, 3) == "opq") text.remove_prefix(3);
  const size_t x = text.find('x');
  CodebookSpec spec;
  auto parse = [](std::string_view digits, uint32_t* value) {
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), *value);
    return error == std::errc() && end == digits.data() + digits.size() && !digits.empty();
  };
  if (x == std::string_view::npos || !parse(text.substr(0, x), &spec.prefix_dims) ||
      !parse(text.substr(x + 1), &spec.m)) {
    return absl::InvalidArgumentError(
        absl::StrCat("codebook '", std::string(original),
                     "' is not <prefix_dims>x<M> (e.g. 128x16 or opq128x16)"));
  }
  return spec;
}

inline absl::Status ValidateCodebookSpec(const CodebookSpec& spec, uint32_t dim) {
  const std::string name = CodebookName(spec);
  if (spec.m == 0 || spec.m % kSubquantizerStep != 0 || spec.m > kMaxSubquantizers) {
    return absl::InvalidArgumentError(absl::StrCat("codebook ", name, ": M must be a multiple of ",
                                                   kSubquantizerStep, " in ", kSubquantizerStep,
                                                   "..", kMaxSubquantizers, ", got ", spec.m));
  }
  if (spec.prefix_dims == 0 || spec.prefix_dims > dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("codebook ", name, ": prefix_dims must be in 1..", dim,
                     " (the collection's dim), got ", spec.prefix_dims));
  }
  if (spec.prefix_dims % spec.m != 0) {
    return absl::InvalidArgumentError(absl::StrCat("codebook ", name, ": prefix_dims (",
                                                   spec.prefix_dims, ") must be a multiple of M (",
                                                   spec.m, ")"));
  }
  return absl::OkStatus();
}

}  // namespace adanns
