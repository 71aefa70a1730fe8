// Small AVX2 helpers shared by the x86/ kernels. Only included from files
// built with -mavx2 -mfma -mf16c.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace glint::kernels::avx2 {

inline float HalfToFloatF16c(uint16_t h) { return _cvtsh_ss(h); }

inline float HsumF32(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int HsumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline float HmaxF32(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles in the low half (the
// block's elements 0..15), high nibbles in the high half (16..31).
inline __m256i UnpackNibbles32(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Pairwise sums of u8 * s8 products as 8 x i32. maddubs saturates its i16
// pair sums, so callers keep |u| * 127 * 2 below 32768 (u <= 127 holds).
inline __m256i DotU8I8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// s8 * s8 through the sign trick: |x| as u8, y takes x's sign.
inline __m256i DotI8I8(__m256i x, __m256i y) {
  return DotU8I8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// 32 floats -> 32 int8 rounded half-to-even after scaling by id (the values
// must lie in [-127, 127] after scaling). Also returns the 8 x i32 sums.
inline __m256i RoundPack32(const float* x, __m256 id, __m256i* sums) {
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), id),
                                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(
      _mm256_mul_ps(_mm256_loadu_ps(x + 8), id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(
      _mm256_mul_ps(_mm256_loadu_ps(x + 16), id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(
      _mm256_mul_ps(_mm256_loadu_ps(x + 24), id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (sums != nullptr) *sums = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
  // The packs work per 128-bit lane; the permute restores element order.
  const __m256i p01 = _mm256_packs_epi32(i0, i1);
  const __m256i p23 = _mm256_packs_epi32(i2, i3);
  const __m256i p = _mm256_packs_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace glint::kernels::avx2
