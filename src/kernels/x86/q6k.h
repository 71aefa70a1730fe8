// Q6_K's integer sums on 256-bit vectors, shared by the AVX2 kernels and the
// x86/vnni/ builds. Those are compiled with other flags (AVX-VNNI, or
// AVX-512), so everything here has internal linkage (static, or the
// unnamed namespace for the policy): each file keeps its own copy, and the
// linker can never hand a copy built for AVX-512 to the AVX2 code of a CPU
// without it.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/x86/x8.h"  // HsumF32X8

namespace glint::kernels::x86 {

// The 128 six-bit quants of one half of a Q6_K block as 4 x 32 bytes in
// 0..63: low nibbles from ql (64 bytes), high bit pairs from qh (32 bytes).
// The layout is the format's (see blocks.h, BlockQ6K).
static inline void UnpackQ6KHalf(const uint8_t* ql, const uint8_t* qh, __m256i q[4]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x30);
  const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
  const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
  q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4),
                         _mm256_and_si256(_mm256_slli_epi16(h, 4), two_bits));
  q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                         _mm256_and_si256(_mm256_slli_epi16(h, 2), two_bits));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                         _mm256_and_si256(h, two_bits));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                         _mm256_and_si256(_mm256_srli_epi16(h, 2), two_bits));
}

// The scales of Q6_K half h (sc = the block's 16 scales + 8 h) as maddubs
// pairs take them: s[k] holds sc[2k] in every i16 of its low 128 bits and
// sc[2k + 1] in its high ones (the two 16-weight groups of the k-th 32
// weights). One widening and one shuffle per vector, where building each
// from two scalar broadcasts cost five instructions.
static inline void Q6KHalfScales(const int8_t* sc, __m256i s[4]) {
  const __m256i sc16 = _mm256_broadcastsi128_si256(
      _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
  for (int k = 0; k < 4; ++k) {
    const char lo = static_cast<char>(4 * k), hi = static_cast<char>(4 * k + 2);
    const __m256i pick = _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                                          lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, hi, hi + 1,
                                          hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi,
                                          hi + 1, hi, hi + 1, hi, hi + 1);
    s[k] = _mm256_shuffle_epi8(sc16, pick);
  }
}

// A block into L1 ahead of its use. The Q6_K many-token kernels read a
// block's scales, at its end, before its quants, and the hardware
// prefetcher did not follow: a fifth of their time waited on that load
// (perf annotate), 11% less with two blocks ahead.
template <typename Block>
static inline void PrefetchBlock(const Block* b) {
  const char* p = reinterpret_cast<const char*>(b);
  for (size_t o = 0; o < sizeof(Block); o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

// How Q6KBlockSums scales the products of 32 quants: Scale(s) prepares a
// Q6KHalfScales vector once, Add(sumi, q, y, scale) returns sumi plus the
// eight i32 sums of four u6 (q) x s8 (the 32 bytes at y) products each,
// each times its 16-weight group's scale. AVX2: maddubs (pairs in i16, at
// most 2 * 63 * 128), then madd by the scale pairs.
namespace {
struct Q6KMaddubsSums {
  static __m256i Scale(__m256i s) { return s; }
  static __m256i Add(__m256i sumi, __m256i q, const int8_t* y, __m256i scale) {
    const __m256i p =
        _mm256_maddubs_epi16(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y)));
    return _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale));
  }
};
}  // namespace

// sumi[t] = eight i32 lanes whose sum is block x's integer dot product with
// token t's block y[t], sum_j scale_j * (q_j - 32) * y_j, as VecDotQ6KQ8K
// forms them lane by lane (the -32 offset goes through the bsums: 32 *
// scale * bsum). Exact integers, so any Sums that forms them gives the same.
template <int T, typename Sums>
static inline void Q6KBlockSums(const BlockQ6K& x, const BlockQ8K* const* y, __m256i* sumi) {
  const __m256i sc16 =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)));
  for (int t = 0; t < T; ++t) {
    const __m256i offset = _mm256_madd_epi16(
        sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[t]->bsums)));
    sumi[t] = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset), 5);
  }
  for (int h = 0; h < 2; ++h) {
    __m256i q[4];
    UnpackQ6KHalf(x.ql + 64 * h, x.qh + 32 * h, q);
    __m256i s[4];
    Q6KHalfScales(x.scales + 8 * h, s);
    for (int k = 0; k < 4; ++k) {
      const __m256i scale = Sums::Scale(s[k]);
      for (int t = 0; t < T; ++t) {
        sumi[t] = Sums::Add(sumi[t], q[k], y[t]->qs + 128 * h + 32 * k, scale);
      }
    }
  }
}

// VecDotQ6KQ8K for T (1..8) tokens y + t * y_stride: each half block is
// unpacked once; token t keeps its own eight-lane accumulator and fused
// multiply-add.
template <int T, typename Sums>
static inline void Q6KQ8KXN(int64_t n, const void* x, const void* y, size_t y_stride,
                            float* out) {
  const auto* bx = static_cast<const BlockQ6K*>(x);
  const auto* y8 = static_cast<const uint8_t*>(y);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    if (i + 2 < n / kQKK) PrefetchBlock(bx + i + 2);
    const BlockQ8K* yi[T];
    for (int t = 0; t < T; ++t) yi[t] = reinterpret_cast<const BlockQ8K*>(y8 + t * y_stride) + i;
    __m256i sumi[T];
    Q6KBlockSums<T, Sums>(bx[i], yi, sumi);
    const float dx = _cvtsh_ss(bx[i].d);
    for (int t = 0; t < T; ++t) {
      const float d = yi[t]->d * dx;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32X8(acc[t]);
}

}  // namespace glint::kernels::x86
