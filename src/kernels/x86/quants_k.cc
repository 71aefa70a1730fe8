// AVX2 kernels for the K-quants: Q8_K activation quantization and the Q4_K,
// Q5_K, Q6_K dot products. Scalar twins in generic/quants_k.cc. The Q8_K
// quantizer is bit-identical to its twin (same multiply, same rounding); the
// dot products keep the integer sums of a block exact and differ from the
// scalar version only in the order of float additions across blocks.
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/q6k.h"
#include "kernels/x86/simd.h"

namespace glint::kernels::avx2 {
namespace {

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// sum_j m_j * (bsums[2j] + bsums[2j+1]) for the 8 mins of a Q4_K/Q5_K block.
inline int MinsTerm(const uint8_t* mins, const int16_t* bsums) {
  uint64_t m8;
  std::memcpy(&m8, mins, 8);
  const __m128i mv = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
  // [m0 m0 m1 m1 ... m7 m7] as i16, lined up with the 16 bsums.
  const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, mv));
  return HsumI32(_mm256_madd_epi16(Load256(bsums), m16));
}

inline void UnpackScales(const uint8_t* packed, uint8_t* sc, uint8_t* m) {
  UnpackScalesMinsK4(packed, sc, m);
}

}  // namespace

void QuantizeQ8K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8K*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    __m256 vmax = _mm256_setzero_ps();
    for (int l = 0; l < kQKK; l += 8) {
      vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(src + l)));
    }
    const float amax = HmaxF32(vmax);
    if (amax == 0) {
      std::memset(&b[i], 0, sizeof(b[i]));
      continue;
    }
    // The first element reaching amax, with its sign (as the scalar scan).
    float max = 0;
    const __m256 va = _mm256_set1_ps(amax);
    for (int l = 0; l < kQKK; l += 8) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(src + l));
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(a, va, _CMP_EQ_OQ));
      if (mask != 0) {
        max = src[l + __builtin_ctz(static_cast<unsigned>(mask))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i ones = _mm256_set1_epi8(1);
    for (int l = 0; l < kQKK; l += 32) {
      // Saturating packs clamp to 127 as the scalar min(127, v) does.
      const __m256i q = RoundPack32(src + l, vs, nullptr);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + l), q);
      const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones, q), _mm256_set1_epi16(1));
      __m128i h = _mm_hadd_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
      h = _mm_hadd_epi32(h, h);
      b[i].bsums[l / 16] = static_cast<int16_t>(_mm_cvtsi128_si32(h));
      b[i].bsums[l / 16 + 1] = static_cast<int16_t>(_mm_extract_epi32(h, 1));
    }
    b[i].d = 1 / iscale;
  }
}

// Scaled integer products of 64-element group g of a Q4_K block (two
// 32-element sub-blocks, low then high nibbles) as eight i32 lanes. Exact
// integers: shared by the single-token and batched summation orders.
inline __m256i Q4KGroupSums(const BlockQ4K& x, const BlockQ8K& y, const uint8_t* sc, int g) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i q = Load256(x.qs + 32 * g);
  const __m256i lo = _mm256_and_si256(q, low4);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
  const __m256i p0 = _mm256_maddubs_epi16(lo, Load256(y.qs + 64 * g));
  const __m256i p1 = _mm256_maddubs_epi16(hi, Load256(y.qs + 64 * g + 32));
  return _mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * g])),
                          _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * g + 1])));
}

// Per super-block, the integer sums (scaled products, mins times bsums)
// become one f32 fused multiply-add each, and the result is acc - acc_min:
// the per-output order of the reference's repacked Q4_K gemv (q4_K_8x8),
// which it uses for every Q4_K matrix with a multiple of 8 rows.
float VecDotQ4KQ8K(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  float acc = 0, acc_min = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], m[8];
    UnpackScales(bx[i].scales, sc, m);
    const float d = HalfToFloatF16c(bx[i].d) * by[i].d;
    const float dmin = HalfToFloatF16c(bx[i].dmin) * by[i].d;
    __m256i sumi = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) sumi = _mm256_add_epi32(sumi, Q4KGroupSums(bx[i], by[i], sc, g));
    acc = std::fma(static_cast<float>(HsumI32(sumi)), d, acc);
    acc_min = std::fma(static_cast<float>(MinsTerm(m, by[i].bsums)), dmin, acc_min);
  }
  return acc - acc_min;
}

// The order of the reference's repacked Q4_K GEMM (q4_K_8x8, tokens in its
// 4-row tiles): one fused multiply-add per 64 elements (two sub-blocks),
// for the scaled products and for the mins alike; then acc - acc_min.
float VecDotQ4KQ8KBatched(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  float acc = 0, acc_min = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], m[8];
    UnpackScales(bx[i].scales, sc, m);
    const float d = HalfToFloatF16c(bx[i].d) * by[i].d;
    const float dmin = HalfToFloatF16c(bx[i].dmin) * by[i].d;
    const int16_t* bs = by[i].bsums;
    for (int g = 0; g < 4; ++g) {
      const __m256i sumi = Q4KGroupSums(bx[i], by[i], sc, g);
      const int mins = m[2 * g] * (bs[4 * g] + bs[4 * g + 1]) +
                       m[2 * g + 1] * (bs[4 * g + 2] + bs[4 * g + 3]);
      acc = std::fma(static_cast<float>(HsumI32(sumi)), d, acc);
      acc_min = std::fma(static_cast<float>(mins), dmin, acc_min);
    }
  }
  return acc - acc_min;
}

float VecDotQ5KQ8K(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ5K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bit0 = _mm256_set1_epi8(0x01);
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], m[8];
    UnpackScales(bx[i].scales, sc, m);
    const float d = by[i].d * HalfToFloatF16c(bx[i].d);
    const float dmin = by[i].d * HalfToFloatF16c(bx[i].dmin);
    summs += dmin * static_cast<float>(MinsTerm(m, by[i].bsums));
    const __m256i qh = Load256(bx[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i q = Load256(bx[i].qs + 32 * g);
      // Bit 2g (2g+1) of each qh byte becomes bit 4 of the low (high) value.
      const __m256i h0 = _mm256_slli_epi16(
          _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), bit0), 4);
      const __m256i h1 = _mm256_slli_epi16(
          _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g + 1)), bit0), 4);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low4), h0);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), h1);
      const __m256i p0 = _mm256_maddubs_epi16(lo, Load256(by[i].qs + 64 * g));
      const __m256i p1 = _mm256_maddubs_epi16(hi, Load256(by[i].qs + 64 * g + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * g])));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * g + 1])));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return HsumF32(acc) - summs;
}

// Eight i32 lanes whose sum is the block's integer dot product (x86/q6k.h):
// shared by both summation orders.
inline __m256i Q6KBlockSums(const BlockQ6K& x, const BlockQ8K& y) {
  const BlockQ8K* ys[1] = {&y};
  __m256i sumi;
  x86::Q6KBlockSums<1, x86::Q6KMaddubsSums>(x, ys, &sumi);
  return sumi;
}

// The 6-bit values are used unsigned (0..63) with maddubs; the -32 offset is
// folded in once per block as 32 * sum_j sc_j * bsums_j.
float VecDotQ6KQ8K(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ6K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const __m256i sumi = Q6KBlockSums(bx[i], by[i]);
    const float d = by[i].d * HalfToFloatF16c(bx[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return HsumF32(acc);
}

// The order of the reference's batched Q6_K product (its tiled matmul):
// one f32 fused multiply-add per super-block, fma(d_y, isum * d_x, acc).
float VecDotQ6KQ8KBatched(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ6K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  float acc = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const __m256i sumi = Q6KBlockSums(bx[i], by[i]);
    acc = std::fma(by[i].d, static_cast<float>(HsumI32(sumi)) * HalfToFloatF16c(bx[i].d), acc);
  }
  return acc;
}

}  // namespace glint::kernels::avx2
