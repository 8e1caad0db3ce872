// The prefix codec for memory tiers: a resident prefix kept in RAM as fp16 or per-dimension int8
// instead of fp32, and block decoders (one per ISA) that turn it back into fp32 for the fp32
// kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/distance.h"

namespace adanns::index {

// How a resident prefix value is stored.
enum class Precision : uint8_t { kFloat32 = 0, kFloat16 = 1, kInt8 = 2 };

// Bytes one stored value takes: 4, 2 or 1.
size_t BytesPerValue(Precision precision);

// Rows a scan decodes at a time: 256 rows x dims floats of scratch stays in cache (L2 up to ~1000
// dims), and scoring the decoded block runs the fp32 kernels unchanged.
inline constexpr size_t kDecodeBlockRows = 256;

// Stores n floats as IEEE binary16 bits, round to nearest, ties to even: bit for bit the value
// RoundToFloat16 (float16.h) gives. Callers guarantee |in[i]| <= kFloat16Max.
void EncodeFloat16(const float* in, size_t n, uint16_t* out);

// The float a binary16 holds (exact; subnormals, ±0, ±inf and NaN included).
float Float16BitsToFloat(uint16_t bits);

// Per-dimension asymmetric 8-bit scalar quantisation: value ≈ offset[j] + scale[j] * code, code in
// 0..255. Both vectors have one entry per resident dimension; every scale is finite and > 0.
struct Int8Params {
  std::vector<float> offset;
  std::vector<float> scale;

  uint32_t dims() const { return static_cast<uint32_t>(offset.size()); }
};

// The smallest scale LearnInt8Params gives: a dimension whose learned range is narrower than
// 255 * kMinInt8Scale (a constant one included) decodes to its offset within float rounding.
inline constexpr float kMinInt8Scale = 1e-30f;

// Learns one (offset, scale) per dimension from the first `dims` floats of n rows (row i starts at
// rows + i * stride): offset = min, scale = (max - min) / 255, floored at kMinInt8Scale. Plain
// min/max (see the .cc for why not percentiles). Non-finite values are skipped; a dimension with
// none finite (or n == 0) gets offset 0.
Int8Params LearnInt8Params(const float* rows, size_t n, size_t stride, uint32_t dims);

// Encodes one row's first params.dims() values: round to nearest, values outside the learned range
// clamp to 0 or 255 (NaN to 0).
void EncodeInt8(const float* in, uint32_t dims, const Int8Params& params, uint8_t* out);

// Versioned, checksummed bytes of `params`.
std::string SerializeInt8Params(const Int8Params& params);
// DATA_LOSS on anything malformed: wrong magic, version or checksum, lengths that disagree, a
// non-finite offset, or a scale that is not finite and > 0.
absl::StatusOr<Int8Params> DeserializeInt8Params(std::string_view bytes);

// Decodes n rows to fp32: row i's `dims` stored values start at rows + i * row_bytes, and land at
// out + i * dims (dense). `params` is read for kInt8 only (it must then hold >= dims entries); for
// kFloat32 the values are copied. Runs the widest decoder the CPU and ADANNS_ISA allow.
void DecodeRows(Precision precision, const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims,
                const Int8Params* params, float* out);

// One ISA's decoders (fp16 encode too: the F16C/AVX-512 conversions round as the scalar one does).
struct PrefixDecoders {
  std::string_view name;
  void (*decode_float16)(const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims,
                         float* out);
  void (*decode_int8)(const uint8_t* rows, size_t row_bytes, size_t n, uint32_t dims,
                      const float* offset, const float* scale, float* out);
  void (*encode_float16)(const float* in, size_t n, uint16_t* out);
};

// Whether this CPU runs `isa`'s decoders: IsaSupported(isa) plus F16C (AVX2) or AVX-512BW + F16C.
bool PrefixCodecIsaSupported(Isa isa);
// Every ISA whose decoders this CPU runs, narrowest first (for tests).
std::vector<Isa> PrefixCodecIsas();
// The widest ISA whose decoders run here, at most BestIsa() (so ADANNS_ISA caps it too).
Isa BestPrefixCodecIsa();
// Decoders of one ISA; only call with PrefixCodecIsaSupported(isa).
const PrefixDecoders& PrefixDecodersFor(Isa isa);
// DecodeRows with one ISA's decoders (tests and benchmarks compare ISAs with it).
void DecodeRowsWith(Isa isa, Precision precision, const uint8_t* rows, size_t row_bytes, size_t n,
                    uint32_t dims, const Int8Params* params, float* out);

namespace internal {
extern const PrefixDecoders kScalarPrefixDecoders;
extern const PrefixDecoders kAvx2PrefixDecoders;
extern const PrefixDecoders kAvx512PrefixDecoders;

// Requests the cache lines of row i + kPrefetchRowsAhead when rows are not dense: the same reason
// as the fp32 scans (strided rows defeat the hardware prefetcher); shared by every ISA's decoder.
inline void PrefetchRowAhead(const uint8_t* rows, size_t row_bytes, size_t i, size_t n,
                             size_t value_bytes) {
  if (row_bytes == value_bytes || i + kPrefetchRowsAhead >= n) return;
  const uint8_t* row = rows + (i + kPrefetchRowsAhead) * row_bytes;
  for (size_t offset = 0; offset < value_bytes; offset += 64) __builtin_prefetch(row + offset);
}
}  // namespace internal

}  // namespace adanns::index
