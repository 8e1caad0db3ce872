// prefix_codec.h: every ISA's fp16 and int8 decoders against the scalar one and a double reference
// (odd widths, strided rows), fp16 encoding against RoundToFloat16, the int8 error bound end to
// end.
#include "index/prefix_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/blob_io.h"
#include "gtest/gtest.h"
#include "index/distance.h"
#include "index/float16.h"

namespace adanns::index {
namespace {

constexpr uint32_t kOddDims[] = {1, 7, 8, 9, 16, 17, 33, 100};
constexpr float kCanary = -12345.0f;

uint32_t Bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
}

bool IsFloat16NaN(uint16_t bits) { return (bits & 0x7C00u) == 0x7C00u && (bits & 0x3FFu) != 0; }

// The binary16 value from its definition, in double.
double Float16Reference(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  double magnitude;
  if (exponent == 0x1F) {
    magnitude = std::numeric_limits<double>::infinity();
  } else if (exponent == 0) {
    magnitude = std::ldexp(double(mantissa), -24);
  } else {
    magnitude = std::ldexp(double(1024 + mantissa), exponent - 25);
  }
  return (bits & 0x8000u) ? -magnitude : magnitude;
}

// Rows of `dims` stored values each `row_bytes` apart, the gap filled with junk the decoders must
// not mix in.
std::vector<uint8_t> RandomBytes(size_t size, std::mt19937& rng) {
  std::vector<uint8_t> bytes(size);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

// Output buffer of n * dims values plus a canary tail that decoders must leave alone.
std::vector<float> OutputWithCanary(size_t n, uint32_t dims) {
  return std::vector<float>(n * dims + 32, kCanary);
}

void ExpectCanaryIntact(const std::vector<float>& out, size_t n, uint32_t dims) {
  for (size_t k = n * dims; k < out.size(); ++k) ASSERT_EQ(out[k], kCanary) << "dims=" << dims;
}

// Per-dimension Gaussian-ish rows with distinct centres and spreads, `stride` floats apart.
std::vector<float> RandomRows(size_t n, size_t stride, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> centre(stride), spread(stride);
  for (size_t j = 0; j < stride; ++j) {
    centre[j] = 10.0f * normal(rng);
    spread[j] = std::exp(normal(rng));
  }
  std::vector<float> rows(n * stride);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < stride; ++j) rows[i * stride + j] = centre[j] + spread[j] * normal(rng);
  }
  return rows;
}

// |decoded - x| allowed for an in-range x: half a step, plus the decode's single rounding.
double Int8ErrorBound(float scale, float x) {
  return scale / 2.0 + 0x1p-23 * (std::fabs(double{x}) + scale);
}

class PrefixCodecTest : public testing::TestWithParam<Isa> {};

TEST_P(PrefixCodecTest, Float16DecodeIsExactAndMatchesScalar) {
  std::mt19937 rng(11);
  // Every non-NaN binary16 (±0, subnormals, normals, ±inf), cycled through the rows.
  std::vector<uint16_t> patterns;
  for (uint32_t bits = 0; bits <= 0xFFFFu; ++bits) {
    if (!IsFloat16NaN(static_cast<uint16_t>(bits))) patterns.push_back(static_cast<uint16_t>(bits));
  }
  std::shuffle(patterns.begin(), patterns.end(), rng);
  size_t next = 0;
  for (uint32_t dims : kOddDims) {
    for (size_t extra_values : {size_t{0}, size_t{5}, size_t{64}}) {
      const size_t row_bytes = (dims + extra_values) * sizeof(uint16_t);
      const size_t n = 37;
      std::vector<uint8_t> rows = RandomBytes(n * row_bytes, rng);
      std::vector<uint16_t> stored(n * dims);
      for (size_t i = 0; i < n; ++i) {
        for (uint32_t j = 0; j < dims; ++j) {
          const uint16_t bits = patterns[next++ % patterns.size()];
          stored[i * dims + j] = bits;
          std::memcpy(rows.data() + i * row_bytes + j * 2, &bits, 2);
        }
      }
      std::vector<float> out = OutputWithCanary(n, dims);
      std::vector<float> scalar = OutputWithCanary(n, dims);
      DecodeRowsWith(GetParam(), Precision::kFloat16, rows.data(), row_bytes, n, dims, nullptr,
                     out.data());
      DecodeRowsWith(Isa::kScalar, Precision::kFloat16, rows.data(), row_bytes, n, dims, nullptr,
                     scalar.data());
      for (size_t k = 0; k < n * dims; ++k) {
        ASSERT_EQ(Bits(out[k]), Bits(scalar[k])) << "dims=" << dims << " k=" << k;
        ASSERT_EQ(double{out[k]}, Float16Reference(stored[k])) << std::hex << stored[k];
        ASSERT_EQ(std::signbit(out[k]), (stored[k] & 0x8000u) != 0);
      }
      ExpectCanaryIntact(out, n, dims);
    }
  }
}

TEST_P(PrefixCodecTest, Float16EncodeMatchesRoundToFloat16) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> exponent(-30.0f, 15.999f);
  std::vector<float> values = {0.0f,
                               -0.0f,
                               65504.0f,
                               -65504.0f,
                               65519.0f,
                               -65519.996f,
                               0x1p-24f,
                               0x1p-25f,
                               3 * 0x1p-25f,
                               0x1p-26f,
                               -0x1p-25f,
                               0x1p-14f,
                               0x1p-14f - 0x1p-25f,
                               1e-40f,
                               -1e-45f,
                               0.1f,
                               1.0f + 0x1p-11f,
                               2.0f - 0x1p-12f};
  for (int k = 0; k < 20000; ++k) {  // magnitudes across the whole range, subnormals included
    const float magnitude = std::exp2(exponent(rng));
    values.push_back((rng() & 1) ? -magnitude : magnitude);
  }
  for (int k = 0; k < 20000; ++k) {  // exact halfway points between neighbouring finite halves
    uint16_t low = static_cast<uint16_t>(rng() % 0x7BFFu);  // below 65504 so low + 1 is finite
    const double midpoint = (Float16Reference(low) + Float16Reference(low + 1)) / 2;
    values.push_back(static_cast<float>((rng() & 1) ? -midpoint : midpoint));
  }
  const PrefixDecoders& decoders = PrefixDecodersFor(GetParam());
  for (size_t n : {values.size(), size_t{1}, size_t{7}, size_t{9}, size_t{17}, size_t{33}}) {
    std::vector<uint16_t> bits(n + 8, 0xABCD);
    decoders.encode_float16(values.data(), n, bits.data());
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(Bits(Float16BitsToFloat(bits[i])), Bits(RoundToFloat16(values[i])))
          << "x=" << values[i] << " (" << std::hexfloat << values[i] << ")";
    }
    for (size_t i = n; i < bits.size(); ++i) ASSERT_EQ(bits[i], 0xABCD) << "wrote past n=" << n;
  }
}

TEST_P(PrefixCodecTest, Int8DecodeAgreesWithDoubleReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (uint32_t dims : kOddDims) {
    for (size_t extra_bytes : {size_t{0}, size_t{3}, size_t{100}}) {
      const size_t row_bytes = dims + extra_bytes, n = 41;
      Int8Params params;
      for (uint32_t j = 0; j < dims; ++j) {
        params.offset.push_back(100.0f * normal(rng));
        params.scale.push_back(std::exp(3.0f * normal(rng)));
      }
      const std::vector<uint8_t> rows = RandomBytes(n * row_bytes, rng);
      std::vector<float> out = OutputWithCanary(n, dims);
      std::vector<float> scalar = OutputWithCanary(n, dims);
      DecodeRowsWith(GetParam(), Precision::kInt8, rows.data(), row_bytes, n, dims, &params,
                     out.data());
      DecodeRowsWith(Isa::kScalar, Precision::kInt8, rows.data(), row_bytes, n, dims, &params,
                     scalar.data());
      for (size_t i = 0; i < n; ++i) {
        for (uint32_t j = 0; j < dims; ++j) {
          const double reference =
              double{params.offset[j]} + double{params.scale[j]} * rows[i * row_bytes + j];
          const float decoded = out[i * dims + j];
          ASSERT_LE(std::fabs(decoded - reference), 1e-6 * std::fabs(reference))
              << "dims=" << dims << " i=" << i << " j=" << j;
          // Every ISA fuses the multiply-add, so they agree to the bit.
          ASSERT_EQ(Bits(decoded), Bits(scalar[i * dims + j]));
        }
      }
      ExpectCanaryIntact(out, n, dims);
    }
  }
}

TEST_P(PrefixCodecTest, Int8RoundTripWithinHalfAStepAndClamps) {
  std::mt19937 rng(9);
  for (uint32_t dims : kOddDims) {
    const size_t stride = dims + 3, n = 300;
    const std::vector<float> rows = RandomRows(n, stride, rng);
    const Int8Params params = LearnInt8Params(rows.data(), n, stride, dims);
    ASSERT_EQ(params.dims(), dims);
    std::vector<uint8_t> codes(n * dims);
    for (size_t i = 0; i < n; ++i) {
      EncodeInt8(rows.data() + i * stride, dims, params, codes.data() + i * dims);
    }
    std::vector<float> decoded = OutputWithCanary(n, dims);
    DecodeRowsWith(GetParam(), Precision::kInt8, codes.data(), dims, n, dims, &params,
                   decoded.data());
    ExpectCanaryIntact(decoded, n, dims);
    for (size_t i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < dims; ++j) {
        const float x = rows[i * stride + j];
        ASSERT_LE(std::fabs(double{decoded[i * dims + j]} - x), Int8ErrorBound(params.scale[j], x))
            << "dims=" << dims << " i=" << i << " j=" << j;
      }
    }
    // Outside the learned range: the nearest end.
    std::vector<float> below(dims), above(dims);
    for (uint32_t j = 0; j < dims; ++j) {
      below[j] = params.offset[j] - 1000.0f * params.scale[j] - 1.0f;
      above[j] = params.offset[j] + 1000.0f * params.scale[j] + 1.0f;
    }
    std::vector<uint8_t> clamped(2 * dims);
    EncodeInt8(below.data(), dims, params, clamped.data());
    EncodeInt8(above.data(), dims, params, clamped.data() + dims);
    std::vector<float> ends(2 * dims);
    DecodeRowsWith(GetParam(), Precision::kInt8, clamped.data(), dims, 2, dims, &params,
                   ends.data());
    for (uint32_t j = 0; j < dims; ++j) {
      EXPECT_EQ(clamped[j], 0);
      EXPECT_EQ(clamped[dims + j], 255);
      EXPECT_EQ(ends[j], params.offset[j]);
      EXPECT_EQ(ends[dims + j], std::fma(params.scale[j], 255.0f, params.offset[j]));
    }
  }
}

TEST_P(PrefixCodecTest, Float32RowsAreCopied) {
  std::mt19937 rng(1);
  for (uint32_t dims : kOddDims) {
    const size_t stride = dims + 4, n = 19;
    const std::vector<float> rows = RandomRows(n, stride, rng);
    std::vector<float> out = OutputWithCanary(n, dims);
    DecodeRowsWith(GetParam(), Precision::kFloat32, reinterpret_cast<const uint8_t*>(rows.data()),
                   stride * sizeof(float), n, dims, nullptr, out.data());
    for (size_t i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < dims; ++j) ASSERT_EQ(out[i * dims + j], rows[i * stride + j]);
    }
    ExpectCanaryIntact(out, n, dims);
  }
}

INSTANTIATE_TEST_SUITE_P(SupportedIsas, PrefixCodecTest, testing::ValuesIn(PrefixCodecIsas()),
                         [](const testing::TestParamInfo<Isa>& param_info) {
                           return std::string(PrefixDecodersFor(param_info.param).name);
                         });

TEST(PrefixCodecDispatchTest, BestIsWithinTheDistanceCap) {
  const Isa best = BestPrefixCodecIsa();
  EXPECT_TRUE(PrefixCodecIsaSupported(best));
  EXPECT_LE(static_cast<int>(best), static_cast<int>(BestIsa()));
  EXPECT_EQ(PrefixCodecIsas().front(), Isa::kScalar);
  EXPECT_EQ(BytesPerValue(Precision::kFloat32), 4u);
  EXPECT_EQ(BytesPerValue(Precision::kFloat16), 2u);
  EXPECT_EQ(BytesPerValue(Precision::kInt8), 1u);
}

TEST(PrefixCodecDispatchTest, DispatchedCallsMatchTheBestIsa) {
  std::mt19937 rng(4);
  constexpr uint32_t kDims = 33;
  constexpr size_t kRows = 10;
  const std::vector<float> rows = RandomRows(kRows, kDims, rng);
  std::vector<uint16_t> halves(rows.size());
  std::vector<float> clipped(rows.size());
  for (size_t k = 0; k < rows.size(); ++k)
    clipped[k] = std::clamp(rows[k], -kFloat16Max, kFloat16Max);
  EncodeFloat16(clipped.data(), clipped.size(), halves.data());
  std::vector<float> dispatched(rows.size()), explicit_isa(rows.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(halves.data());
  DecodeRows(Precision::kFloat16, bytes, kDims * 2, kRows, kDims, nullptr, dispatched.data());
  DecodeRowsWith(BestPrefixCodecIsa(), Precision::kFloat16, bytes, kDims * 2, kRows, kDims, nullptr,
                 explicit_isa.data());
  for (size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(Bits(dispatched[k]), Bits(explicit_isa[k]));
    EXPECT_EQ(Bits(dispatched[k]), Bits(RoundToFloat16(clipped[k])));
  }
}

TEST(Int8ParamsTest, ConstantDimensionDecodesToItsConstant) {
  constexpr uint32_t kDims = 5;
  constexpr size_t kRows = 50;
  const float constants[kDims] = {3.25f, 0.0f, -1e6f, 1e-3f, -0.0f};
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  std::vector<float> rows(kRows * (kDims + 1));
  for (size_t i = 0; i < kRows; ++i) {
    for (uint32_t j = 0; j < kDims; ++j) rows[i * (kDims + 1) + j] = constants[j];
    rows[i * (kDims + 1) + kDims] = normal(rng);  // not learned (stride > dims)
  }
  const Int8Params params = LearnInt8Params(rows.data(), kRows, kDims + 1, kDims);
  for (uint32_t j = 0; j < kDims; ++j) {
    EXPECT_EQ(params.offset[j], constants[j]);
    EXPECT_GT(params.scale[j], 0.0f);
    EXPECT_TRUE(std::isfinite(params.scale[j]));
  }
  std::vector<uint8_t> codes(kDims);
  EncodeInt8(constants, kDims, params, codes.data());
  for (Isa isa : PrefixCodecIsas()) {
    std::vector<float> decoded(kDims);
    DecodeRowsWith(isa, Precision::kInt8, codes.data(), kDims, 1, kDims, &params, decoded.data());
    for (uint32_t j = 0; j < kDims; ++j) EXPECT_EQ(decoded[j], constants[j]) << "j=" << j;
  }
}

TEST(Int8ParamsTest, NoRowsOrNonFiniteValuesStillGiveUsableParams) {
  const Int8Params empty = LearnInt8Params(nullptr, 0, 3, 3);
  ASSERT_EQ(empty.dims(), 3u);
  for (uint32_t j = 0; j < 3; ++j) {
    EXPECT_EQ(empty.offset[j], 0.0f);
    EXPECT_GT(empty.scale[j], 0.0f);
  }
  const float inf = std::numeric_limits<float>::infinity();
  const float rows[] = {inf, 1.0f, std::nanf(""), 3.0f};
  const Int8Params params = LearnInt8Params(rows, 2, 2, 2);
  EXPECT_EQ(params.offset[0], 0.0f);  // no finite value
  EXPECT_EQ(params.offset[1], 1.0f);
  EXPECT_FLOAT_EQ(params.scale[1], 2.0f / 255);
  uint8_t codes[2];
  const float nan_row[] = {std::nanf(""), 2.0f};
  EncodeInt8(nan_row, 2, params, codes);
  EXPECT_EQ(codes[0], 0);
  EXPECT_NEAR(codes[1], 127.5, 0.5);  // 2 is half way from 1 to 3
}

TEST(Int8ParamsTest, SerializeRoundTrips) {
  std::mt19937 rng(8);
  const std::vector<float> rows = RandomRows(100, 17, rng);
  const Int8Params params = LearnInt8Params(rows.data(), 100, 17, 17);
  const std::string bytes = SerializeInt8Params(params);
  const absl::StatusOr<Int8Params> restored = DeserializeInt8Params(bytes);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->offset, params.offset);
  EXPECT_EQ(restored->scale, params.scale);
  const absl::StatusOr<Int8Params> none = DeserializeInt8Params(SerializeInt8Params({}));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->dims(), 0u);
}

TEST(Int8ParamsTest, MalformedBytesAreDataLoss) {
  Int8Params params;
  params.offset = {1.0f, -2.0f, 3.0f};
  params.scale = {0.5f, 0.25f, 1e-30f};
  const std::string bytes = SerializeInt8Params(params);
  auto expect_data_loss = [](std::string_view candidate, const std::string& what) {
    const absl::StatusOr<Int8Params> result = DeserializeInt8Params(candidate);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << what;
  };
  for (size_t length = 0; length < bytes.size(); ++length) {
    expect_data_loss(std::string_view(bytes).substr(0, length),
                     "truncated to " + std::to_string(length));
  }
  expect_data_loss(bytes + "x", "trailing byte");
  for (size_t k = 0; k < bytes.size(); ++k) {
    std::string corrupt = bytes;
    corrupt[k] = static_cast<char>(corrupt[k] ^ 0x10);
    expect_data_loss(corrupt, "bit flip at " + std::to_string(k));
  }
  // Checksums that match, contents that do not: resealed after the edit.
  auto resealed = [&](size_t at, const void* value, size_t size) {
    std::string edited = bytes.substr(0, bytes.size() - sizeof(uint32_t));
    std::memcpy(edited.data() + at, value, size);
    SealBlob(edited);
    return edited;
  };
  const uint32_t version = 2, dims = 4, huge_dims = 0xFFFFFFFFu;
  expect_data_loss(resealed(8, &version, 4), "unknown version");
  expect_data_loss(resealed(12, &dims, 4), "dims longer than the values");
  expect_data_loss(resealed(12, &huge_dims, 4), "huge dims");
  const size_t offsets_at = 16, scales_at = 16 + 3 * sizeof(float);
  for (float bad : {std::numeric_limits<float>::infinity(), std::nanf("")}) {
    expect_data_loss(resealed(offsets_at + 4, &bad, 4), "non-finite offset");
  }
  for (float bad : {-0.5f, 0.0f, -0.0f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
    expect_data_loss(resealed(scales_at + 8, &bad, 4), "bad scale " + std::to_string(bad));
  }
}

// Decode-then-score on int8 rows against fp32 scoring of the original rows: every decoded value is
// within e_j = Int8ErrorBound of the original, so |dot error| <= sum_j |q_j| e_j and
// |L2 error| <= sum_j (2 |x_j - q_j| e_j + e_j^2), plus each kernel's float rounding.
TEST(PrefixCodecScoreTest, Int8DecodeThenScoreWithinQuantisationBound) {
  constexpr uint32_t kDims = 64;
  constexpr size_t kRows = 2000, kQueries = 20;
  std::mt19937 rng(21);
  std::normal_distribution<float> normal;
  std::vector<float> rows(kRows * kDims), queries(kQueries * kDims);
  for (float& v : rows) v = normal(rng);
  for (float& v : queries) v = normal(rng);
  const Int8Params params = LearnInt8Params(rows.data(), kRows, kDims, kDims);
  std::vector<uint8_t> codes(kRows * kDims);
  for (size_t i = 0; i < kRows; ++i) {
    EncodeInt8(rows.data() + i * kDims, kDims, params, codes.data() + i * kDims);
  }
  const DistanceKernels& kernels = BestKernels();
  // A float kernel over d terms (one subtraction or product each, then d additions) is off by at
  // most gamma_{d+2} of the sum of |terms|.
  constexpr double kTerms = kDims + 2;
  const double gamma = kTerms * 0x1p-24 / (1 - kTerms * 0x1p-24);
  std::vector<float> decoded(kDecodeBlockRows * kDims);
  std::vector<float> l2(kDecodeBlockRows), dot(kDecodeBlockRows);
  double worst_l2_error = 0, worst_l2_bound_fraction = 0;
  for (size_t q = 0; q < kQueries; ++q) {
    const float* query = queries.data() + q * kDims;
    for (size_t first = 0; first < kRows; first += kDecodeBlockRows) {
      const size_t block = std::min(kDecodeBlockRows, kRows - first);
      DecodeRows(Precision::kInt8, codes.data() + first * kDims, kDims, block, kDims, &params,
                 decoded.data());
      kernels.l2_sqr(query, decoded.data(), kDims, block, kDims, l2.data());
      kernels.dot(query, decoded.data(), kDims, block, kDims, dot.data());
      for (size_t i = 0; i < block; ++i) {
        const float* x = rows.data() + (first + i) * kDims;
        const float exact_l2 = kernels.l2_sqr_one(query, x, kDims);
        const float exact_dot = kernels.dot_one(query, x, kDims);
        double l2_bound = 0, dot_bound = 0, abs_dot = 0;
        for (uint32_t j = 0; j < kDims; ++j) {
          const double e = Int8ErrorBound(params.scale[j], x[j]);
          l2_bound += 2 * std::fabs(double{x[j]} - query[j]) * e + e * e;
          dot_bound += std::fabs(double{query[j]}) * e;
          abs_dot += std::fabs(double{query[j]}) * (std::fabs(double{x[j]}) + e);
        }
        // Both sides are float sums: each off by gamma of its (non-negative) terms.
        const double l2_rounding = gamma * (2.0 * exact_l2 + l2_bound);
        const double dot_rounding = 2 * gamma * abs_dot;
        const double l2_error = std::fabs(double{l2[i]} - exact_l2);
        ASSERT_LE(l2_error, l2_bound + l2_rounding) << "query " << q << " row " << first + i;
        ASSERT_LE(std::fabs(double{dot[i]} - exact_dot), dot_bound + dot_rounding)
            << "query " << q << " row " << first + i;
        worst_l2_error = std::max(worst_l2_error, l2_error);
        worst_l2_bound_fraction = std::max(worst_l2_bound_fraction, l2_error / l2_bound);
      }
    }
  }
  // The bound is a worst case (every error aligned); typical errors are well inside it.
  EXPECT_GT(worst_l2_error, 0.0);
  EXPECT_LT(worst_l2_bound_fraction, 1.0);
}

}  // namespace
}  // namespace adanns::index
