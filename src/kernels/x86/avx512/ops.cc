// Operations on 512-bit vectors where they pay, each per lane the same
// operations as x86/ops.cc's 256-bit versions (so bit-identical to
// generic's):
// - SwiGLU, whose exponential is the reference engine's AVX-512 one
//   (generic's ExpRef): here vscalefps itself, which the 256-bit version
//   emulates in eight more operations;
// - the attention's F16 scores in DotF16X4's order for heads of 64 (the
//   reference's four 16-lane accumulators are four vectors here, not
//   eight halves) and its weighted sums of V, over short contexts and
//   long (sixteen output columns a vector).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/internal.h"
#include "kernels/x86/x8.h"  // HsumF32X8, Reduce8x8

namespace glint::kernels::avx512vbmi {
namespace {

// ExpRef on 16 lanes: n = round(x / ln2) by the 1.5 * 2^23 trick, b = x - n
// ln2 with ln2 in two parts, the degree-5 polynomial j(b) in ExpRef's tree
// of fused multiply-adds, then j * 2^n in one rounding; |n| > 192: 0 where
// n <= 0, else +inf.
inline __m512 ExpRef16(__m512 x) {
  const __m512 shift = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
  const __m512 n = _mm512_sub_ps(z, shift);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b,
                                      _mm512_set1_ps(0x1.573e2ep-5f)),
                      u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b,
                                      _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  const __m512 r = _mm512_scalef_ps(j, n);
  const __mmask16 out = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  if (out == 0) return r;
  const __mmask16 le0 = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512 alt = _mm512_mask_blend_ps(le0, _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(out, r, alt);
}

}  // namespace

void Swiglu(const float* gate, const float* up, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const int64_t n16 = n / 16 * 16;
  for (int64_t i = 0; i < n16; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 silu =
        _mm512_div_ps(g, _mm512_add_ps(one, ExpRef16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
  }
  for (int64_t i = n16; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

namespace {

inline __m512 LoadHalf16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// x86/ops.cc's ScoresRowX4 for hd 64: the products of the key's 64 halves
// with each query (fused multiply-adds onto zero), as the reference's four
// 16-lane accumulators, combined (0 + 2) + (1 + 3), then the two 8-lane
// halves added: sums[g], which Reduce8x8 or HsumF32X8 finish as
// DotF16X4 does.
template <int QN>
inline void ScoresRow64(const uint16_t* kr, const __m512 (*q)[4], __m256* sums) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 k[4];
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) k[c] = LoadHalf16(kr + 16 * c);
#pragma GCC unroll 4
  for (int g = 0; g < QN; ++g) {
    __m512 a[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) a[c] = _mm512_fmadd_ps(k[c], q[g][c], zero);
    const __m512 s = _mm512_add_ps(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3]));
    sums[g] = _mm256_add_ps(_mm512_castps512_ps256(s),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
  }
}

template <int QN>
void ScoresQueries64(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q,
                     float scale, float* out, int64_t out_stride) {
  __m512 qv[QN][4];  // the queries stay in registers for every key
#pragma GCC unroll 4
  for (int g = 0; g < QN; ++g) {
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) qv[g][c] = _mm512_loadu_ps(q + g * 64 + 16 * c);
  }
  const __m256 vscale = _mm256_set1_ps(scale);
  int32_t j = 0;
  for (; j + 8 <= n_keys; j += 8) {
    // As x86/ops.cc: the keys' rows four groups ahead.
    for (int jj = 0; jj < 8 && j + 32 + jj < n_keys; ++jj) {
      const uint16_t* ahead = k + (j + 32 + jj) * k_stride;
      _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(ahead + 32), _MM_HINT_T0);
    }
    __m256 sums[8][QN];
#pragma GCC unroll 8
    for (int jj = 0; jj < 8; ++jj) ScoresRow64<QN>(k + (j + jj) * k_stride, qv, sums[jj]);
#pragma GCC unroll 4
    for (int g = 0; g < QN; ++g) {
      __m256 v[8];
#pragma GCC unroll 8
      for (int jj = 0; jj < 8; ++jj) v[jj] = sums[jj][g];
      _mm256_storeu_ps(out + g * out_stride + j, _mm256_mul_ps(x86::Reduce8x8(v), vscale));
    }
  }
  for (; j < n_keys; ++j) {
    __m256 sums[QN];
    ScoresRow64<QN>(k + j * k_stride, qv, sums);
    for (int g = 0; g < QN; ++g) out[g * out_stride + j] = x86::HsumF32X8(sums[g]) * scale;
  }
}

// x86/ops.cc's SlotTree on sixteen columns: slot m's positions m, m +
// Slots, ... added to a zeroed vector by fused multiply-adds, the slots
// summed pairwise as sum_slots reduces them; subtrees past n_pos (+0 only)
// left out, as there.
template <int Slots, int Step>
__attribute__((always_inline)) inline __m512 SlotTree16(const uint16_t* v, int64_t v_stride,
                                                        int32_t n_pos, const float* p, int32_t m) {
  if constexpr (Step == Slots) {
    __m512 acc = _mm512_setzero_ps();
    for (int32_t j = m; j < n_pos; j += Slots) {
      acc = _mm512_fmadd_ps(LoadHalf16(v + j * v_stride), _mm512_set1_ps(p[j]), acc);
    }
    return acc;
  } else {
    const __m512 low = SlotTree16<Slots, 2 * Step>(v, v_stride, n_pos, p, m);
    if (m + Step >= n_pos) return low;
    return _mm512_add_ps(low, SlotTree16<Slots, 2 * Step>(v, v_stride, n_pos, p, m + Step));
  }
}

// x86/ops.cc's WeightedSlot on 16 columns a vector: G groups' accumulator
// rows of slot r, C vectors from the same column, in registers from zero
// while every position of the slot is added to them in order, then stored;
// the same rows prefetched as far ahead.
template <int G, int C>
inline void WeightedSlot16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                           int64_t p_stride, int32_t r, int32_t slots, float* a,
                           int64_t acc_g_stride) {
  __m512 acc[G][C];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[g][c] = _mm512_setzero_ps();
  }
  const int32_t ahead = 8 * slots;
  const int32_t span = (n_pos + slots - 1) / slots * slots;
  for (int32_t j = r; j < n_pos; j += slots) {
    const uint16_t* vj = v + j * v_stride;
    int32_t jp = j + ahead;
    if (jp >= span && r + 1 < slots) jp -= span - 1;
    if (jp < n_pos) __builtin_prefetch(v + jp * v_stride);
    __m512 vv[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) vv[c] = LoadHalf16(vj + 16 * c);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m512 pj = _mm512_set1_ps(p[g * p_stride + j]);
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[g][c] = _mm512_fmadd_ps(vv[c], pj, acc[g][c]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(a + g * acc_g_stride + 16 * c, acc[g][c]);
  }
}

// Every slot for G groups: the columns four vectors at a time (G x 4
// accumulators stay in registers for G <= 6), then one by one.
template <int G>
void WeightedSum16G(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t slots, float* acc, int64_t acc_g_stride,
                    int64_t acc_stride, int64_t len16) {
  for (int32_t r = 0; r < slots && r < n_pos; ++r) {
    float* a = acc + r * acc_stride;
    int64_t d = 0;
    for (; d + 64 <= len16; d += 64) {
      WeightedSlot16<G, 4>(v + d, v_stride, n_pos, p, p_stride, r, slots, a + d, acc_g_stride);
    }
    for (; d < len16; d += 16) {
      WeightedSlot16<G, 1>(v + d, v_stride, n_pos, p, p_stride, r, slots, a + d, acc_g_stride);
    }
  }
}

}  // namespace

void WeightedSumF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                    int64_t acc_g_stride, int64_t acc_stride, int64_t len) {
  const int64_t len16 = len / 16 * 16;
  for (int32_t g0 = 0; g0 < n_g; g0 += 6) {
    const float* pg = p + g0 * p_stride;
    float* ag = acc + g0 * acc_g_stride;
    auto run = [&](auto groups) {
      WeightedSum16G<decltype(groups)::value>(v, v_stride, n_pos, pg, p_stride, slots, ag,
                                              acc_g_stride, acc_stride, len16);
    };
    switch (std::min(6, n_g - g0)) {
      case 6: run(std::integral_constant<int, 6>{}); break;
      case 5: run(std::integral_constant<int, 5>{}); break;
      case 4: run(std::integral_constant<int, 4>{}); break;
      case 3: run(std::integral_constant<int, 3>{}); break;
      case 2: run(std::integral_constant<int, 2>{}); break;
      default: run(std::integral_constant<int, 1>{}); break;
    }
  }
  if (len16 < len) {  // the columns past the last sixteen
    avx2::WeightedSumF16(v + len16, v_stride, n_pos, p, p_stride, n_g, slots, acc + len16,
                         acc_g_stride, acc_stride, len - len16);
  }
}

void ScoresF16X4(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride) {
  if (hd != 64) {
    avx2::ScoresF16X4(k, k_stride, n_keys, q, n_q, hd, scale, out, out_stride);
    return;
  }
  for (int32_t g = 0; g < n_q; g += 4) {
    const float* qg = q + g * hd;
    float* og = out + g * out_stride;
    switch (std::min(4, n_q - g)) {
      case 4: ScoresQueries64<4>(k, k_stride, n_keys, qg, scale, og, out_stride); break;
      case 3: ScoresQueries64<3>(k, k_stride, n_keys, qg, scale, og, out_stride); break;
      case 2: ScoresQueries64<2>(k, k_stride, n_keys, qg, scale, og, out_stride); break;
      default: ScoresQueries64<1>(k, k_stride, n_keys, qg, scale, og, out_stride); break;
    }
  }
}

void WeightedSlotsF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                      int64_t p_stride, int32_t n_g, int32_t slots, float* out, int64_t out_stride,
                      int64_t len) {
  const int64_t len16 = len / 16 * 16;
  for (int32_t g = 0; g < n_g; ++g) {
    const float* pg = p + g * p_stride;
    float* og = out + g * out_stride;
    for (int64_t d = 0; d < len16; d += 16) {
      _mm512_storeu_ps(og + d, slots == 64 ? SlotTree16<64, 1>(v + d, v_stride, n_pos, pg, 0)
                                           : SlotTree16<16, 1>(v + d, v_stride, n_pos, pg, 0));
    }
  }
  if (len16 < len) {  // the columns past the last sixteen
    avx2::WeightedSlotsF16(v + len16, v_stride, n_pos, p, p_stride, n_g, slots, out + len16,
                           out_stride, len - len16);
  }
}

}  // namespace glint::kernels::avx512vbmi
