// F16 / BF16 conversions: exhaustive over all 65536 bit patterns.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/internal.h"
#include "kernels/kernels.h"

namespace glint::kernels {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Independent decoding of a half by its definition: (-1)^s 2^(e-15) (1 + m/1024),
// subnormals 2^-14 (m/1024).
double HalfByDefinition(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? std::ldexp(m / 1024.0, -14) : std::ldexp(1 + m / 1024.0, e - 15);
  return s ? -v : v;
}

TEST(HalfTest, AllHalvesDecodeAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto hh = static_cast<uint16_t>(h);
    const float f = HalfToFloat(hh);
    const int e = (h >> 10) & 31;
    if (e == 31) {
      if ((h & 1023) == 0) {
        ASSERT_TRUE(std::isinf(f)) << h;
      } else {
        ASSERT_TRUE(std::isnan(f)) << h;
      }
    } else {
      ASSERT_EQ(static_cast<double>(f), HalfByDefinition(hh)) << h;
    }
    ASSERT_EQ(Bits(HalfToFloatTable(hh)), Bits(f)) << h;
    const uint16_t back = FloatToHalf(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(HalfToFloat(back))) << h;
    } else {
      ASSERT_EQ(back, hh) << h;
    }
  }
}

// Every float halfway between two adjacent halves rounds to the even one, and
// values just off the midpoint round to the nearer one.
TEST(HalfTest, RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7BFF; ++h) {  // positive finite, below max
    const double lo = HalfByDefinition(static_cast<uint16_t>(h));
    const double hi = HalfByDefinition(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((lo + hi) / 2);  // exact in float
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    ASSERT_EQ(FloatToHalf(mid), even) << h;
    ASSERT_EQ(FloatToHalf(-mid), even | 0x8000) << h;
    ASSERT_EQ(FloatToHalf(std::nextafter(mid, 0.0f)), h) << h;
    ASSERT_EQ(FloatToHalf(std::nextafter(mid, 1e9f)), h + 1) << h;
  }
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65519.99f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);  // midpoint to "65536": ties to even = inf
  EXPECT_EQ(FloatToHalf(1e10f), 0x7C00);
  EXPECT_EQ(FloatToHalf(-INFINITY), 0xFC00);
  EXPECT_EQ(FloatToHalf(1e-10f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
}

TEST(HalfTest, ScalarMatchesSimdConversion) {
  const KernelTable* simd = Avx2Kernels();
  if (simd == nullptr) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  constexpr int kN = 1 << 16;
  std::vector<float> f(kN);
  for (auto& x : f) {
    x = FromBits(bits(rng));
    if (std::isnan(x)) x = 1.0f;
    int e;
    x = std::ldexp(std::frexp(x, &e), static_cast<int>(bits(rng) % 50) - 30);
  }
  std::vector<uint16_t> a(kN), b(kN);
  GenericKernels()[DType::kF16].quantize(f.data(), a.data(), kN - 3);  // odd length: tail
  (*simd)[DType::kF16].quantize(f.data(), b.data(), kN - 3);
  ASSERT_EQ(a, b);
  std::vector<uint16_t> all(65536);
  for (uint32_t h = 0; h < 65536; ++h) all[h] = static_cast<uint16_t>(h);
  std::vector<float> da(65536), db(65536);
  GenericKernels()[DType::kF16].dequantize(all.data(), da.data(), 65536);
  (*simd)[DType::kF16].dequantize(all.data(), db.data(), 65536);
  for (uint32_t h = 0; h < 65536; ++h) {
    if (std::isnan(da[h])) {
      ASSERT_TRUE(std::isnan(db[h]));
    } else {
      ASSERT_EQ(Bits(da[h]), Bits(db[h])) << h;
    }
  }
}

TEST(Bf16Test, AllBf16DecodeAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(h));
    ASSERT_EQ(Bits(f), h << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(FloatToBf16(f), h);
    } else {
      ASSERT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(f))));
    }
  }
}

TEST(Bf16Test, RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7F7F; h += 3) {
    const uint32_t mid = (h << 16) | 0x8000;  // exactly halfway to h + 1
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    ASSERT_EQ(FloatToBf16(FromBits(mid)), even) << h;
    ASSERT_EQ(FloatToBf16(FromBits(mid - 1)), h) << h;
    ASSERT_EQ(FloatToBf16(FromBits(mid + 1)), h + 1) << h;
  }
}

}  // namespace
}  // namespace glint::kernels
