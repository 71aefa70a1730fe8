// The eight-token Q4_1 x Q8_1 dot product of the multi-token kernels, with
// the integer dot as a parameter: quants_x4.cc instantiates it with AVX2's
// maddubs + madd, vnni/quants_x4_vnni.cc with vpdpbusd. Only included from
// files built with -mavx2 -mfma -mf16c (and more).
//
// Prefill spends most of its time here, and the loop is bound by the
// instructions it issues, so it is written out for exactly eight tokens:
// - the eight accumulators stay in registers (as an array, GCC 12 keeps a
//   copy in memory and stores to it every block);
// - the eight activation rows are addressed from two pointers and two
//   strides (base + index * scale) rather than eight pointers, which GCC
//   spills and reloads;
// - the eight products of the two scales come from one multiply, and each
//   token's is broadcast by an in-lane shuffle (port 5 on Intel, idle
//   here) rather than multiplied per token on the ports that the
//   conversion and the fused multiply-add need.
// Per output the float operations are those of the single-token kernel
// (VecDotQ4_1Q8_1), in its order: the same products d = dx * dy, the same
// fused multiply-adds, the same horizontal sum and offset term. So every
// output is bit-identical to it; tests/kernels holds them to it.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/blocks.h"

namespace glint::kernels::x86 {

// As avx2::HsumF32 (4+4, 2+2, 1+1). Not that one: simd.h's inline helpers
// are built for AVX2 only, and this header is also compiled with
// -mavxvnni; `static` keeps each file's copy its own.
static inline float HsumF32X8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// [HsumF32X8(v[0]), ..., HsumF32X8(v[7])], with its additions in each lane:
// (k, k + 4), then (0, 2) and (1, 3) of those, then their sum; the vectors
// transposed as they go (fifteen operations for eight sums, against six
// for one).
static inline __m256 Reduce8x8(const __m256* v) {
  auto halves = [](__m256 a, __m256 b) {  // [a0+a4 .. a3+a7 | b0+b4 .. b3+b7]
    return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  };
  const __m256 x04 = halves(v[0], v[4]), x15 = halves(v[1], v[5]);
  const __m256 x26 = halves(v[2], v[6]), x37 = halves(v[3], v[7]);
  const __m256 y0145 =
      _mm256_add_ps(_mm256_shuffle_ps(x04, x15, 0x44), _mm256_shuffle_ps(x04, x15, 0xEE));
  const __m256 y2367 =
      _mm256_add_ps(_mm256_shuffle_ps(x26, x37, 0x44), _mm256_shuffle_ps(x26, x37, 0xEE));
  return _mm256_add_ps(_mm256_shuffle_ps(y0145, y2367, 0x88), _mm256_shuffle_ps(y0145, y2367, 0xDD));
}

// dot(qx, row) returns the eight i32 sums of four u8 (qx) x s8 (row)
// products each, as the block's single-token kernel forms them.
template <typename Dot>
inline void Q4_1Q8_1X8(int64_t n, const void* x, const void* y, size_t y_stride,
                       const float* scales, size_t scales_stride, float* out, Dot dot) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const uint8_t* y0 = static_cast<const uint8_t*>(y) + offsetof(BlockQ8_1, qs);
  const uint8_t* y4 = y0 + 4 * y_stride;
  const size_t s1 = y_stride;
  const size_t s3 = 3 * y_stride;
  const int64_t nb = n / kQK;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
         a7 = a0;
  __m256 summs = a0;  // lane j: token j's offset term
  const float* dy = scales;
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].qs));
    const __m256i qx =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low4);
    const __m256 d = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(bx[i].d)), _mm256_loadu_ps(dy));
    const __m256 d_lo = _mm256_permute2f128_ps(d, d, 0x00);  // d0..d3 twice
    const __m256 d_hi = _mm256_permute2f128_ps(d, d, 0x11);  // d4..d7 twice
    summs = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(bx[i].m)),
                            _mm256_loadu_ps(dy + scales_stride), summs);
    a0 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0x00), _mm256_cvtepi32_ps(dot(qx, y0)), a0);
    a1 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0x55), _mm256_cvtepi32_ps(dot(qx, y0 + s1)), a1);
    a2 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0xAA), _mm256_cvtepi32_ps(dot(qx, y0 + 2 * s1)),
                         a2);
    a3 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0xFF), _mm256_cvtepi32_ps(dot(qx, y0 + s3)), a3);
    a4 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0x00), _mm256_cvtepi32_ps(dot(qx, y4)), a4);
    a5 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0x55), _mm256_cvtepi32_ps(dot(qx, y4 + s1)), a5);
    a6 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0xAA), _mm256_cvtepi32_ps(dot(qx, y4 + 2 * s1)),
                         a6);
    a7 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0xFF), _mm256_cvtepi32_ps(dot(qx, y4 + s3)), a7);
    y0 += sizeof(BlockQ8_1);
    y4 += sizeof(BlockQ8_1);
    dy += 2 * scales_stride;
  }
  alignas(32) float sm[8];
  _mm256_store_ps(sm, summs);
  out[0] = HsumF32X8(a0) + sm[0];
  out[1] = HsumF32X8(a1) + sm[1];
  out[2] = HsumF32X8(a2) + sm[2];
  out[3] = HsumF32X8(a3) + sm[3];
  out[4] = HsumF32X8(a4) + sm[4];
  out[5] = HsumF32X8(a5) + sm[5];
  out[6] = HsumF32X8(a6) + sm[6];
  out[7] = HsumF32X8(a7) + sm[7];
}

}  // namespace glint::kernels::x86
