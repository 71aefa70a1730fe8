// Q4_K decoding over eight rows packed at load (x86::Q4KPacked8).
//
// One Q4_K row against one token ends every super-block with two
// horizontal sums (the scaled products, the mins term), unpacks the 6-bit
// scales with scalar shifts and converts two f16 scales on their own: per
// 256 weights that is about as many instructions as the products. With
// eight rows in the lanes every integer sum is already in the lane of its
// row, one conversion serves eight scales, and the weights stay 4-bit.
// Each lane performs VecDotQ4KQ8K's float operations for its row (the same
// exact integer sums, d = f16(x.d) * y.d, one fused multiply-add per
// super-block into acc and acc_min, then acc - acc_min), so every output is
// bit-identical to it; tests/kernels holds them to it.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/rows8.h"

namespace glint::kernels::avx2 {
namespace {

using x86::I16Pair;
using x86::Q4KPacked8;
using x86::TransposeQuads;

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Four activation bytes broadcast to every lane.
inline __m256i Quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Eight u8 scales (one per row) as the i16 pair (s, s) in lane r.
inline __m256i ScalePairs(const uint8_t* sc) {
  const __m128i s = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(s, s));
}

inline __m256 HalvesToFloat(const uint16_t* h) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

}  // namespace

size_t Q4KPacked8BlockBytes() { return sizeof(Q4KPacked8); }

void RepackQ4KPacked8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  auto* out = static_cast<Q4KPacked8*>(dst);
  const BlockQ4K* rows[8];
  for (int r = 0; r < 8; ++r) {
    rows[r] = reinterpret_cast<const BlockQ4K*>(static_cast<const uint8_t*>(x) + r * x_row_bytes);
  }
  for (int64_t i = 0; i < n / kQKK; ++i) {
    Q4KPacked8& o = out[i];
    for (int r = 0; r < 8; ++r) {
      const BlockQ4K& b = rows[r][i];
      o.d[r] = b.d;
      o.dmin[r] = b.dmin;
      uint8_t sc[8], m[8];
      UnpackScalesMinsK4(b.scales, sc, m);
      for (int s = 0; s < 8; ++s) o.sc[s][r] = sc[s];
      for (int g = 0; g < 4; ++g) {
        o.mins[g][r][0] = m[2 * g];
        o.mins[g][r][1] = m[2 * g + 1];
      }
    }
    for (int g = 0; g < 4; ++g) {
      __m256i v[8];
      for (int r = 0; r < 8; ++r) v[r] = Load256(rows[r][i].qs + 32 * g);
      TransposeQuads(v, o.qs[g]);
    }
  }
}

void VecDotQ4KQ8KPacked8(int64_t n, const void* xr, const void* y, float* out) {
  const auto* bx = static_cast<const Q4KPacked8*>(xr);
  const auto* by = static_cast<const BlockQ8K*>(y);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q4KPacked8& b = bx[i];
    const BlockQ8K& a = by[i];
    __m256i sumi = _mm256_setzero_si256(), mins = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      // Sub-blocks 2g (low nibbles) and 2g + 1 (high nibbles), eight quads
      // each, summed in i16: |sum| <= 8 * 2 * 15 * 127 < 2^15.
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q) {
        const __m256i w = Load256(b.qs[g][q]);
        lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_and_si256(w, low4),
                                                       Quad(a.qs + 64 * g + 4 * q)));
        hi = _mm256_add_epi16(
            hi, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(w, 4), low4),
                                     Quad(a.qs + 64 * g + 32 + 4 * q)));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(lo, ScalePairs(b.sc[2 * g])));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(hi, ScalePairs(b.sc[2 * g + 1])));
      // m[2g] * (bsums[4g] + bsums[4g+1]) + m[2g+1] * (bsums[4g+2] + bsums[4g+3]).
      const int16_t* bs = a.bsums + 4 * g;
      const __m256i m16 =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.mins[g])));
      mins = _mm256_add_epi32(
          mins, _mm256_madd_epi16(m16, _mm256_set1_epi32(I16Pair(bs[0] + bs[1], bs[2] + bs[3]))));
    }
    const __m256 dy = _mm256_set1_ps(a.d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_mul_ps(HalvesToFloat(b.d), dy), acc);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(HalvesToFloat(b.dmin), dy),
                              acc_min);
  }
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_min));
}

}  // namespace glint::kernels::avx2
