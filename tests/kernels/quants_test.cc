// Quantization formats: round trips with stated error bounds, the scalar dot
// products against a double-precision reference, and every SIMD kernel
// against its scalar twin over many sizes, fills and misaligned pointers.
//
// Error bounds (per block of the input, amax = max |x|, range = max - min):
//   Q4_0  |x - x'| <= amax / 8   (the extreme opposite the scale's sign clamps
//                                  to level 7 of [-8, 7]) + f16 rounding of d
//   Q5_0  |x - x'| <= amax / 16  (same clamp with [-16, 15])
//   Q4_1  |x - x'| <= range / 30 + f16 rounding of d and m
//   Q5_1  |x - x'| <= range / 62 + f16 rounding of d and m
//   Q8_0, Q8_1  |x - x'| <= amax / 254 + 127 * |d - f16(d)| (<= amax / 2048)
//   Q8_K  |x - x'| <= amax / 254 (d stays f32)
//   Q4_K, Q5_K, Q6_K (simple min/max quantizers, 6/8-bit sub-block scales):
//         rms(x - x') / rms(x) on N(0,1) data <= 0.09, 0.045, 0.023
//         (measured 0.078, 0.038, 0.019)
//   F16   relative 2^-11; BF16 relative 2^-8.
// Dot products: with M = sum |w_i| |a_i| (dequantized values),
//   scalar vs double reference  |err| <= 1e-5 M (+ 2^-11 sum_b |m_b s_b| for
//     Q4_1/Q5_1, whose s = d * sum(q) is stored as f16)
//   SIMD vs scalar              |err| <= 1e-5 M for block formats (identical
//     integer block sums, different f32 summation order), 4e-5 M for F16/F32
//     (f32 lanes vs the scalar twin's double).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace glint::kernels {
namespace {

using testing::Fill;
using testing::OffsetBuffer;
using testing::RandomFloats;
using testing::RandomWeights;

std::vector<int64_t> TestSizes(DType t) {
  const int64_t bs = GetDTypeInfo(t).block_size;
  if (bs == 256) return {256, 512, 768, 1280, 2048, 4608, 8960};
  if (bs == 32) return {32, 64, 96, 128, 160, 224, 256, 512, 992, 1536, 3072, 5120};
  return {1, 3, 7, 8, 9, 31, 32, 33, 100, 576, 1537};
}

std::vector<float> Dequantize(const KernelTable& k, DType t, const void* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  k[t].dequantize(src, out.data(), n);
  return out;
}

std::vector<uint8_t> Quantize(const KernelTable& k, DType t, const float* x, int64_t n) {
  std::vector<uint8_t> out(RowBytes(t, n));
  k[t].quantize(x, out.data(), n);
  return out;
}

// Max allowed |x - x'| for one block of a legacy format or Q8_K.
double BlockBound(DType t, const float* x, int64_t n) {
  float amax = 0, lo = x[0], hi = x[0];
  for (int64_t i = 0; i < n; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const double range = static_cast<double>(hi) - lo;
  const double f16 = 1.0 / 2048;  // relative rounding of an f16 scale
  switch (t) {
    case DType::kQ4_0: return amax / 8.0 + 8 * (amax / 8.0) * f16;
    case DType::kQ5_0: return amax / 16.0 + 16 * (amax / 16.0) * f16;
    case DType::kQ4_1: return range / 30.0 + 15 * (range / 15) * f16 + std::fabs(lo) * f16;
    case DType::kQ5_1: return range / 62.0 + 31 * (range / 31) * f16 + std::fabs(lo) * f16;
    case DType::kQ8_0:
    case DType::kQ8_1: return amax / 254.0 + amax * f16;
    case DType::kQ8_K: return amax / 254.0 * (1 + 1e-6);
    default: return 0;
  }
}

class RoundTripTest : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTripTest, BlockErrorWithinBound) {
  const DType t = GetParam();
  const int64_t bs = GetDTypeInfo(t).block_size;
  std::mt19937 rng(11);
  for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
    const int64_t n = bs * 40;
    const std::vector<float> x = RandomFloats(rng, n, fill);
    const std::vector<uint8_t> q = Quantize(GenericKernels(), t, x.data(), n);
    const std::vector<float> y = Dequantize(GenericKernels(), t, q.data(), n);
    for (int64_t b = 0; b < n; b += bs) {
      const double bound = BlockBound(t, x.data() + b, bs);
      for (int64_t i = b; i < b + bs; ++i) {
        ASSERT_LE(std::fabs(static_cast<double>(x[i]) - y[i]), bound * (1 + 1e-5) + 1e-30)
            << DTypeName(t) << " element " << i << " fill " << static_cast<int>(fill);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Legacy, RoundTripTest,
                         ::testing::Values(DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                                           DType::kQ8_0, DType::kQ8_1, DType::kQ8_K),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(RoundTripTest, KQuantsRelativeRms) {
  const std::pair<DType, double> cases[] = {
      {DType::kQ4_K, 0.09}, {DType::kQ5_K, 0.045}, {DType::kQ6_K, 0.023}};
  std::mt19937 rng(12);
  for (const auto& [t, bound] : cases) {
    const int64_t n = 256 * 64;
    const std::vector<float> x = RandomFloats(rng, n);
    const std::vector<uint8_t> q = Quantize(GenericKernels(), t, x.data(), n);
    const std::vector<float> y = Dequantize(GenericKernels(), t, q.data(), n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
      ref += x[i] * static_cast<double>(x[i]);
    }
    const double rel = std::sqrt(err / ref);
    EXPECT_LE(rel, bound) << DTypeName(t);
    // Zero blocks stay zero.
    std::vector<float> zeros(256, 0.0f);
    const std::vector<uint8_t> qz = Quantize(GenericKernels(), t, zeros.data(), 256);
    for (float v : Dequantize(GenericKernels(), t, qz.data(), 256)) ASSERT_EQ(v, 0.0f);
  }
}

TEST(RoundTripTest, PlainTypesRelative) {
  std::mt19937 rng(13);
  const std::vector<float> x = RandomFloats(rng, 4096, Fill::kExtremes);
  for (const auto& [t, bound] : {std::pair{DType::kF16, 1.0 / 2048}, {DType::kBF16, 1.0 / 256}}) {
    const std::vector<uint8_t> q = Quantize(GenericKernels(), t, x.data(), 4096);
    const std::vector<float> y = Dequantize(GenericKernels(), t, q.data(), 4096);
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::fabs(x[i]) < 6.2e-5f && t == DType::kF16) continue;  // f16 subnormals: absolute
      ASSERT_LE(std::fabs(x[i] - y[i]), bound * std::fabs(x[i])) << DTypeName(t) << " " << x[i];
    }
  }
}

// Q8_K keeps the reference's choice of scale: the signed extreme maps to -127.
TEST(Q8KTest, ExtremeMapsToMinus127AndBsums) {
  std::vector<float> x(256, 0.5f);
  x[100] = 3.0f;
  x[200] = -3.0f;  // same magnitude later: the first one wins
  BlockQ8K b;
  GenericKernels()[DType::kQ8_K].quantize(x.data(), &b, 256);
  EXPECT_EQ(b.qs[100], -127);
  EXPECT_EQ(b.qs[200], 127);
  EXPECT_FLOAT_EQ(b.d, -3.0f / 127);
  for (int j = 0; j < 16; ++j) {
    int s = 0;
    for (int l = 0; l < 16; ++l) s += b.qs[16 * j + l];
    EXPECT_EQ(b.bsums[j], s);
  }
}

// Activation quantizers: SIMD output is byte-identical to the scalar one.
class QuantizeSimdTest : public ::testing::TestWithParam<DType> {};

TEST_P(QuantizeSimdTest, ByteIdenticalToScalar) {
  const DType t = GetParam();
  const size_t align = testing::RowAlignment(t);
  std::mt19937 rng(21);
  for (const KernelTable* simd : testing::SimdTables()) {
    for (int64_t n : TestSizes(t)) {
      for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
        const std::vector<float> x = RandomFloats(rng, n, fill);
        const size_t src_off = 4 * (n % 8);  // a float pointer off the 32-byte grid
        const size_t dst_off = align * (1 + n % 3);
        OffsetBuffer src(4 * n, src_off);
        std::memcpy(src.data(), x.data(), 4 * n);
        const size_t bytes = RowBytes(t, n);
        OffsetBuffer a(bytes, dst_off), b(bytes, dst_off);
        GenericKernels()[t].quantize(src.floats(), a.data(), n);
        (*simd)[t].quantize(src.floats(), b.data(), n);
        ASSERT_EQ(std::memcmp(a.data(), b.data(), bytes), 0)
            << simd->isa << " " << DTypeName(t) << " n=" << n << " fill " << static_cast<int>(fill);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, QuantizeSimdTest,
                         ::testing::Values(DType::kQ8_0, DType::kQ8_1, DType::kQ8_K, DType::kF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

// sum |w_i a_i| over dequantized values, and the f16-rounded offset term.
struct DotReference {
  double exact = 0;
  double magnitude = 0;
  double offset_slack = 0;
};

DotReference Reference(DType t, const void* w, const void* a, int64_t n) {
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  const std::vector<float> wf = Dequantize(g, t, w, n);
  const std::vector<float> af = Dequantize(g, at, a, n);
  DotReference r;
  for (int64_t i = 0; i < n; ++i) {
    r.exact += static_cast<double>(wf[i]) * af[i];
    r.magnitude += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
  if (at == DType::kQ8_1) {
    const auto* bx = static_cast<const uint8_t*>(w);
    const auto* by = static_cast<const BlockQ8_1*>(a);
    const size_t xb = GetDTypeInfo(t).block_bytes;
    for (int64_t b = 0; b < n / 32; ++b) {
      uint16_t m;
      std::memcpy(&m, bx + b * xb + 2, 2);  // Q4_1 / Q5_1: m follows d
      r.offset_slack += std::fabs(HalfToFloat(m) * HalfToFloat(by[b].s)) / 2048;
    }
  }
  return r;
}

class VecDotTest : public ::testing::TestWithParam<DType> {};

TEST_P(VecDotTest, ScalarMatchesDoubleReference) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(31);
  for (int64_t n : TestSizes(t)) {
    for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes}) {
      const std::vector<uint8_t> w = RandomWeights(rng, t, n);
      const std::vector<float> x = RandomFloats(rng, n, fill);
      const std::vector<uint8_t> a = Quantize(g, at, x.data(), n);
      const DotReference ref = Reference(t, w.data(), a.data(), n);
      const float got = g[t].vec_dot(n, w.data(), a.data());
      ASSERT_NEAR(got, ref.exact, 1e-5 * ref.magnitude + ref.offset_slack + 1e-30)
          << DTypeName(t) << " n=" << n;
    }
  }
}

TEST_P(VecDotTest, SimdMatchesScalar) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  const DType at = g[t].vec_dot_type;
  const size_t align_w = testing::RowAlignment(t), align_a = testing::RowAlignment(at);
  const double rel = (t == DType::kF32 || t == DType::kF16 || t == DType::kBF16) ? 4e-5 : 1e-5;
  std::mt19937 rng(41);
  for (const KernelTable* simd : testing::SimdTables()) {
    ASSERT_EQ((*simd)[t].vec_dot_type, at);
    for (int64_t n : TestSizes(t)) {
      for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
        const std::vector<uint8_t> w = RandomWeights(rng, t, n);
        const std::vector<float> x = RandomFloats(rng, n, fill);
        const std::vector<uint8_t> a = Quantize(g, at, x.data(), n);
        for (size_t k = 0; k < 3; ++k) {  // several misalignments per size
          OffsetBuffer wb(w.size(), align_w * ((n + k) % 8));
          OffsetBuffer ab(a.size(), align_a * ((n + 2 * k) % 8));
          std::memcpy(wb.data(), w.data(), w.size());
          std::memcpy(ab.data(), a.data(), a.size());
          const float want = g[t].vec_dot(n, wb.data(), ab.data());
          const float got = (*simd)[t].vec_dot(n, wb.data(), ab.data());
          const DotReference ref = Reference(t, w.data(), a.data(), n);
          ASSERT_NEAR(got, want, rel * ref.magnitude + 1e-30)
              << simd->isa << " " << DTypeName(t) << " n=" << n;
        }
      }
    }
  }
}

// The reference's batched orders (vec_dot_batched): close to the exact dot
// product, and the SIMD twin bit-identical to the scalar one (integer sums,
// then the same f32 fused multiply-adds). Q4_K's single-token order is also
// bit-identical (both follow the reference's repacked GEMV).
TEST_P(VecDotTest, BatchedOrderMatchesScalarBitwise) {
  const DType t = GetParam();
  const KernelTable& g = GenericKernels();
  if (g[t].vec_dot_batched == nullptr) GTEST_SKIP() << "no batched order";
  const DType at = g[t].vec_dot_type;
  std::mt19937 rng(43);
  for (int64_t n : TestSizes(t)) {
    for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
      const std::vector<uint8_t> w = RandomWeights(rng, t, n);
      const std::vector<float> x = RandomFloats(rng, n, fill);
      const std::vector<uint8_t> a = Quantize(g, at, x.data(), n);
      const DotReference ref = Reference(t, w.data(), a.data(), n);
      const float want = g[t].vec_dot_batched(n, w.data(), a.data());
      ASSERT_NEAR(want, ref.exact, 1e-5 * ref.magnitude + 1e-30) << DTypeName(t) << " n=" << n;
      for (const KernelTable* simd : testing::SimdTables()) {
        ASSERT_NE((*simd)[t].vec_dot_batched, nullptr);
        const float got = (*simd)[t].vec_dot_batched(n, w.data(), a.data());
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << simd->isa << " " << DTypeName(t) << " n=" << n;
        if (t == DType::kQ4_K) {
          const float s1 = g[t].vec_dot(n, w.data(), a.data());
          const float s2 = (*simd)[t].vec_dot(n, w.data(), a.data());
          ASSERT_EQ(std::memcmp(&s1, &s2, 4), 0) << simd->isa << " Q4_K vec_dot n=" << n;
        }
      }
    }
  }
}

// Q4_0, Q4_1 and Q8_0: the scalar dot products keep the AVX2 kernels' eight
// f32 lanes (the reference's order), so both agree bit for bit.
TEST(VecDotLegacyTest, SimdBitIdenticalToScalar) {
  const KernelTable& g = GenericKernels();
  std::mt19937 rng(47);
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0}) {
    const DType at = g[t].vec_dot_type;
    for (int64_t n : TestSizes(t)) {
      for (Fill fill : {Fill::kNormal, Fill::kWithZeros, Fill::kExtremes, Fill::kAllZero}) {
        const std::vector<uint8_t> w = RandomWeights(rng, t, n);
        const std::vector<float> x = RandomFloats(rng, n, fill);
        const std::vector<uint8_t> a = Quantize(g, at, x.data(), n);
        const float want = g[t].vec_dot(n, w.data(), a.data());
        for (const KernelTable* simd : testing::SimdTables()) {
          const float got = (*simd)[t].vec_dot(n, w.data(), a.data());
          ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << simd->isa << " " << DTypeName(t) << " n=" << n;
        }
      }
    }
  }
}

TEST(KernelTableTest, BatchedOrderRules) {
  const TypeKernels& q4k = GenericKernels()[DType::kQ4_K];
  const TypeKernels& q6k = GenericKernels()[DType::kQ6_K];
  // Q4_K: the reference's 4-row GEMM tiles cover the batch's leading multiple of 4.
  EXPECT_EQ(q4k.DotFor(1, 0), q4k.vec_dot);
  EXPECT_EQ(q4k.DotFor(3, 2), q4k.vec_dot);
  EXPECT_EQ(q4k.DotFor(6, 3), q4k.vec_dot_batched);
  EXPECT_EQ(q4k.DotFor(6, 4), q4k.vec_dot);
  EXPECT_EQ(q4k.DotFor(512, 511), q4k.vec_dot_batched);
  // Q6_K: its tiled matmul takes batches of 8 or more.
  EXPECT_EQ(q6k.DotFor(7, 0), q6k.vec_dot);
  EXPECT_EQ(q6k.DotFor(8, 7), q6k.vec_dot_batched);
  // Types without a batched order always use vec_dot.
  const TypeKernels& q41 = GenericKernels()[DType::kQ4_1];
  EXPECT_EQ(q41.DotFor(64, 3), q41.vec_dot);
}

// A dot product that ignores part of its input must fail: flip one quant in
// the last block and expect a change (guards against loops that stop early).
TEST_P(VecDotTest, LastBlockMatters) {
  const DType t = GetParam();
  const KernelTable& k = ActiveKernels();
  const DType at = k[t].vec_dot_type;
  std::mt19937 rng(51);
  const int64_t n = GetDTypeInfo(t).block_size * 9;
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  x[n - 1] = 1.0f;
  x[n - 2] = -0.5f;
  std::vector<uint8_t> w = RandomWeights(rng, t, n);
  const std::vector<uint8_t> a = Quantize(k, at, x.data(), n);
  const std::vector<float> wf = Dequantize(GenericKernels(), t, w.data(), n);
  const double want = wf[n - 1] * 1.0 + wf[n - 2] * -0.5;
  const float got = k[t].vec_dot(n, w.data(), a.data());
  const double tol = 0.02 * (std::fabs(wf[n - 1]) + std::fabs(wf[n - 2])) + 1e-6;
  EXPECT_NEAR(got, want, tol) << DTypeName(t);
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, VecDotTest, ::testing::ValuesIn(testing::WeightTypes()),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

TEST(KernelTableTest, EveryWeightTypeIsComplete) {
  for (const KernelTable* k : {&GenericKernels(), &ActiveKernels()}) {
    for (DType t : testing::WeightTypes()) {
      const TypeKernels& tk = (*k)[t];
      EXPECT_NE(tk.dequantize, nullptr) << DTypeName(t);
      EXPECT_NE(tk.vec_dot, nullptr) << DTypeName(t);
      EXPECT_NE((*k)[tk.vec_dot_type].quantize, nullptr) << DTypeName(t);
      EXPECT_TRUE(IsSupportedWeightType(t));
    }
  }
  EXPECT_FALSE(IsSupportedWeightType(DType::kQ2_K));
  EXPECT_FALSE(IsSupportedWeightType(DType::kQ8_K));
}

}  // namespace
}  // namespace glint::kernels
