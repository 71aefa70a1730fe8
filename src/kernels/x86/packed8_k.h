// Q4_K over eight rows packed at load (x86::Q4KPacked8, rows8.h), for
// decoding and for prompts. Only included from files built with at least
// -mavx2 -mfma -mf16c.
//
// One Q4_K row against one token ends every super-block with two
// horizontal sums (the scaled products, the mins term), unpacks the 6-bit
// scales with scalar shifts and converts two f16 scales on their own: per
// 256 weights about as many instructions as the products. With eight rows
// in the lanes every integer sum is already in the lane of its row, one
// conversion serves eight scales, and the weights stay 4-bit (a prompt's
// eight-row kernels otherwise repack them, unpacked, per chunk).
//
// Q4KPacked8Dot performs, per lane, the float operations of the reference's
// order it is asked for: VecDotQ4KQ8K (one fused multiply-add per
// super-block into acc and acc_min) or VecDotQ4KQ8KBatched (one per 64
// elements), with d = f16(x.d) * y.d and the same exact integer sums; the
// caller forms acc - acc_min. So every output is bit-identical to that
// kernel; tests/kernels holds them to it. (Helpers that are not templates
// over a per-build type are static: see x86/q6k.h.)
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/x86/rows8.h"

namespace glint::kernels::x86 {

// Eight u8 scales (one per row) as the i16 pair (s, s) in lane r.
static inline __m256i ScalePairsU8(const uint8_t* sc) {
  const __m128i s = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(s, s));
}

// The integer sums with maddubs (AVX2): eight quads of products summed in
// i16 (|sum| <= 8 * 2 * 15 * 127 < 2^15), then scaled into i32 by madd.
struct MaddubsSums {
  static __m256i AddQuad(__m256i acc, __m256i w, const int8_t* a) {
    int32_t v;
    std::memcpy(&v, a, 4);
    return _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, _mm256_set1_epi32(v)));
  }
  static __m256i Scale(__m256i acc, const uint8_t* sc) {
    return _mm256_madd_epi16(acc, ScalePairsU8(sc));
  }
};

enum class Q4KOrder { kPerSuperBlock, kPerGroup };

// Accumulates rows bx (n / 256 super-blocks) against T activation rows
// y + t * y_stride into acc[t] and acc_min[t], lane r = row r, in the given
// order. Sums supplies the integer sums of a sub-block (AddQuad: the
// products of every lane's four weights with the four activation bytes at
// a; then Scale).
template <typename Sums, int T, Q4KOrder kOrder>
inline void Q4KPacked8Dot(int64_t n, const Q4KPacked8* bx, const void* y, size_t y_stride,
                          __m256* acc, __m256* acc_min) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const BlockQ8K* by[T];
  for (int t = 0; t < T; ++t) {
    by[t] = reinterpret_cast<const BlockQ8K*>(static_cast<const uint8_t*>(y) + t * y_stride);
  }
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q4KPacked8& b = bx[i];
    const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.d)));
    const __m256 mx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.dmin)));
    __m256i sumi[T], mins[T];
    for (int t = 0; t < T; ++t) sumi[t] = mins[t] = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      // Sub-block 2g in the low nibbles, 2g + 1 in the high ones.
      __m256i lo[T], hi[T];
      for (int t = 0; t < T; ++t) lo[t] = hi[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs[g][q]));
        const __m256i wl = _mm256_and_si256(w, low4);
        const __m256i wh = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          const int8_t* a = by[t][i].qs + 64 * g + 4 * q;
          lo[t] = Sums::AddQuad(lo[t], wl, a);
          hi[t] = Sums::AddQuad(hi[t], wh, a + 32);
        }
      }
      const __m256i m16 =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.mins[g])));
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        // m[2g] * (bsums[4g] + bsums[4g+1]) + m[2g+1] * (bsums[4g+2] + bsums[4g+3]).
        const int16_t* bs = by[t][i].bsums + 4 * g;
        const __m256i sg = _mm256_add_epi32(Sums::Scale(lo[t], b.sc[2 * g]),
                                            Sums::Scale(hi[t], b.sc[2 * g + 1]));
        const __m256i mg =
            _mm256_madd_epi16(m16, _mm256_set1_epi32(I16Pair(bs[0] + bs[1], bs[2] + bs[3])));
        if constexpr (kOrder == Q4KOrder::kPerGroup) {
          const __m256 dy = _mm256_set1_ps(by[t][i].d);
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sg), _mm256_mul_ps(dx, dy), acc[t]);
          acc_min[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mg), _mm256_mul_ps(mx, dy), acc_min[t]);
        } else {
          sumi[t] = _mm256_add_epi32(sumi[t], sg);
          mins[t] = _mm256_add_epi32(mins[t], mg);
        }
      }
    }
    if constexpr (kOrder == Q4KOrder::kPerSuperBlock) {
      for (int t = 0; t < T; ++t) {
        const __m256 dy = _mm256_set1_ps(by[t][i].d);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_mul_ps(dx, dy), acc[t]);
        acc_min[t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins[t]), _mm256_mul_ps(mx, dy), acc_min[t]);
      }
    }
  }
}

// The decode product: eight rows against one token into out[0..8).
template <typename Sums>
inline void Q4KQ8KPacked8(int64_t n, const void* xr, const void* y, float* out) {
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  Q4KPacked8Dot<Sums, 1, Q4KOrder::kPerSuperBlock>(n, static_cast<const Q4KPacked8*>(xr), y, 0,
                                                   &acc, &acc_min);
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_min));
}

// The decode product for n_tokens (2..8) tokens y + t * y_stride, row r of
// token t to out[t * out_stride + r] (VecDotPacked8XNFn; Q8_K blocks hold
// their own scales): a draft being verified, sequences decoded together.
// Four tokens per pass over the rows, then two, then one, each in the
// decode order (more tokens per pass share each unpacked weight load).
template <typename Sums>
inline void Q4KQ8KPacked8XN(int64_t n, const void* xr, const void* y, size_t y_stride,
                            int n_tokens, float* out, size_t out_stride) {
  const auto* bx = static_cast<const Q4KPacked8*>(xr);
  const auto* y8 = static_cast<const uint8_t*>(y);
  int t = 0;
  auto pass = [&]<int T>() {
    __m256 acc[T], acc_min[T];
    for (int j = 0; j < T; ++j) acc[j] = acc_min[j] = _mm256_setzero_ps();
    Q4KPacked8Dot<Sums, T, Q4KOrder::kPerSuperBlock>(n, bx, y8 + t * y_stride, y_stride, acc,
                                                     acc_min);
    for (int j = 0; j < T; ++j) {
      _mm256_storeu_ps(out + (t + j) * out_stride, _mm256_sub_ps(acc[j], acc_min[j]));
    }
    t += T;
  };
  while (t + 4 <= n_tokens) pass.template operator()<4>();
  if (t + 2 <= n_tokens) pass.template operator()<2>();
  if (t < n_tokens) Q4KQ8KPacked8<Sums>(n, xr, y8 + t * y_stride, out + t * out_stride);
}

// The prompt's order for T = 1, 2 or 4 tokens, with VecDotRows8Fn's state
// (token t: acc at state + 16 t, acc_min 8 further on), continued across
// calls over consecutive blocks.
template <typename Sums, int T>
inline void Q4KQ8KBatchedPacked8(int64_t n, const void* xr, const void* y, size_t y_stride,
                                 float* state) {
  __m256 acc[T], acc_min[T];
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm256_loadu_ps(state + 16 * t);
    acc_min[t] = _mm256_loadu_ps(state + 16 * t + 8);
  }
  Q4KPacked8Dot<Sums, T, Q4KOrder::kPerGroup>(n, static_cast<const Q4KPacked8*>(xr), y,
                                              y_stride, acc, acc_min);
  for (int t = 0; t < T; ++t) {
    _mm256_storeu_ps(state + 16 * t, acc[t]);
    _mm256_storeu_ps(state + 16 * t + 8, acc_min[t]);
  }
}

}  // namespace glint::kernels::x86
