// AVX2 + FMA versions of the row operations (ops.h); scalar twins in
// generic/ops.cc. rms_norm, softmax and swiglu follow the reference engine
// (llama.cpp as built for this AVX-512 machine) operation for operation, so
// both versions and the reference agree bit for bit.
#include <cmath>

#include "base/check.h"
#include "kernels/internal.h"
#include "kernels/x86/simd.h"
#include "kernels/x86/x8.h"  // Reduce8x8

namespace glint::kernels::avx2 {
namespace {

// The reference's AVX-512 ggml_v_expf on 8 lanes (scalar twin: generic
// ExpRef). vscalefps is emulated by two multiplies by powers of two, the
// first exact, so the result is rounded once, as vscalefps rounds it.
inline __m256 ExpRef8(__m256 x) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)),
                      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
  // |n| <= 192 here (other lanes are replaced below): split n = k + s with
  // 2^k keeping j * 2^k normal and exact, s in {0, 96, -100}.
  const __m256 big = _mm256_cmp_ps(n, _mm256_set1_ps(127.0f), _CMP_GT_OQ);
  const __m256 tiny = _mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
  const __m256 s = _mm256_or_ps(_mm256_and_ps(big, _mm256_set1_ps(96.0f)),
                                _mm256_and_ps(tiny, _mm256_set1_ps(-100.0f)));
  const __m256 nk = _mm256_max_ps(_mm256_min_ps(_mm256_sub_ps(n, s), _mm256_set1_ps(127.0f)),
                                  _mm256_set1_ps(-126.0f));
  auto pow2 = [](__m256 e) {
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(e), _mm256_set1_epi32(127)), 23));
  };
  __m256 r = _mm256_mul_ps(_mm256_mul_ps(j, pow2(nk)), pow2(s));
  // |n| > 192 (or NaN-free infinities): 0 for n <= 0, +inf otherwise.
  const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 out = _mm256_cmp_ps(absn, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  if (_mm256_movemask_ps(out) != 0) {
    const __m256 le0 = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ);
    const __m256 alt = _mm256_andnot_ps(le0, _mm256_set1_ps(INFINITY));
    r = _mm256_blendv_ps(r, alt, out);
  }
  return r;
}

inline __m256 LoadHalf8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// 16 lanes held as two halves, reduced 8+8, 4+4, 2+2, 1+1.
inline float Reduce16(__m256 lo, __m256 hi) { return HsumF32(_mm256_add_ps(lo, hi)); }

}  // namespace

void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // The squares are f32 products widened one by one and summed in order in
  // double, as the reference's (unvectorized) rms_norm loop does.
  double sum = 0;
  int64_t i = 0;
  alignas(32) float sq[8];
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_store_ps(sq, _mm256_mul_ps(v, v));
    for (int l = 0; l < 8; ++l) sum += static_cast<double>(sq[l]);
  }
  for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  const __m256 vs = _mm256_set1_ps(scale);
  i = 0;
  if (w != nullptr) {
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
      _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_loadu_ps(w + i)));
    }
    for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  } else {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; ++i) y[i] = x[i] * scale;
  }
}

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float max = HmaxF32(vmax);
  for (; i < n; ++i) max = std::fmax(max, x[i]);
  const __m256 vm = _mm256_set1_ps(max);
  double sum = 0;
  i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 e0 = ExpRef8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    const __m256 e1 = ExpRef8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
    _mm256_storeu_ps(x + i, e0);
    _mm256_storeu_ps(x + i + 8, e1);
    sum += static_cast<double>(Reduce16(e0, e1));
  }
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  Scale(x, static_cast<float>(1.0 / sum), n);
}

void Swiglu(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const int64_t n16 = n / 16 * 16;
  for (int64_t i = 0; i < n16; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, ExpRef8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (int64_t i = n16; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

float DotF16X4(const uint16_t* x, const uint16_t* y, int64_t n) {
  __m256 a[8];
  for (auto& v : a) v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int c = 0; c < 8; ++c) {
      a[c] = _mm256_fmadd_ps(LoadHalf8(x + i + 8 * c), LoadHalf8(y + i + 8 * c), a[c]);
    }
  }
  // Accumulator c of 16 lanes is a[2c] (low) and a[2c + 1] (high).
  const __m256 lo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
  const __m256 hi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
  double sum = Reduce16(lo, hi);
  for (; i < n; ++i) sum += static_cast<double>(_cvtsh_ss(x[i]) * _cvtsh_ss(y[i]));
  return static_cast<float>(sum);
}

float DotF16X1(const uint16_t* x, const uint16_t* y, int64_t n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    lo = _mm256_fmadd_ps(LoadHalf8(x + i), LoadHalf8(y + i), lo);
    hi = _mm256_fmadd_ps(LoadHalf8(x + i + 8), LoadHalf8(y + i + 8), hi);
  }
  return Reduce16(lo, hi);
}

void AxpyF16(float a, const uint16_t* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(LoadHalf8(x + i), va, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] = std::fma(_cvtsh_ss(x[i]), a, y[i]);
}

namespace {

// QN queries against one key row: the key's halves are converted once for
// all of them. sums[g] = lo + hi of DotF16X1's two 8-lane accumulators
// (steps of 16, fused multiply-adds of exact half products), which
// Reduce16 or Reduce8x8 then sums as DotF16X1 does.
template <int QN>
inline void ScoresRow(const uint16_t* kr, const float* q, int64_t hd, __m256* sums) {
  __m256 lo[QN], hi[QN];
#pragma GCC unroll 4
  for (int g = 0; g < QN; ++g) lo[g] = hi[g] = _mm256_setzero_ps();
  for (int64_t i = 0; i < hd; i += 16) {
    const __m256 kl = LoadHalf8(kr + i), kh = LoadHalf8(kr + i + 8);
#pragma GCC unroll 4
    for (int g = 0; g < QN; ++g) {
      lo[g] = _mm256_fmadd_ps(kl, _mm256_loadu_ps(q + g * hd + i), lo[g]);
      hi[g] = _mm256_fmadd_ps(kh, _mm256_loadu_ps(q + g * hd + i + 8), hi[g]);
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < QN; ++g) sums[g] = _mm256_add_ps(lo[g], hi[g]);
}

// QN queries against one key row in DotF16X4's order (hd a multiple of
// 64): per 64 elements, eight 8-lane accumulators a[c] of fused
// multiply-adds of exact half products; sums[g] = lo + hi with lo = (a0 +
// a4) + (a2 + a6) and hi = (a1 + a5) + (a3 + a7), which HsumF32 or
// Reduce8x8 then reduce as DotF16X4's Reduce16 does. A single step (hd 64,
// the usual head size) converts the key once for every query.
template <int QN>
inline void ScoresRowX4(const uint16_t* kr, const float* q, int64_t hd, __m256* sums) {
  const __m256 zero = _mm256_setzero_ps();
  auto combine = [](const __m256* a) {
    const __m256 lo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
    const __m256 hi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
    return _mm256_add_ps(lo, hi);
  };
  if (hd == 64) {
    __m256 k[8];
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) k[c] = LoadHalf8(kr + 8 * c);
#pragma GCC unroll 4
    for (int g = 0; g < QN; ++g) {
      __m256 a[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) a[c] = _mm256_fmadd_ps(k[c], _mm256_loadu_ps(q + g * hd + 8 * c), zero);
      sums[g] = combine(a);
    }
    return;
  }
  for (int g = 0; g < QN; ++g) {
    __m256 a[8];
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) a[c] = zero;
    for (int64_t i = 0; i < hd; i += 64) {
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        a[c] = _mm256_fmadd_ps(LoadHalf8(kr + i + 8 * c), _mm256_loadu_ps(q + g * hd + i + 8 * c),
                               a[c]);
      }
    }
    sums[g] = combine(a);
  }
}

// Keys [0, n_keys) against QN queries, each key's sums from its row kernel
// (ScoresRow: DotF16X1's order; ScoresRowX4: DotF16X4's): eight keys at a
// time reduced together (the horizontal sums cost as much as the products
// at these lengths), the rest one by one.
template <int QN, bool kX4>
void ScoresQueries(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int64_t hd,
                   float scale, float* out, int64_t out_stride) {
  auto row = [&](const uint16_t* kr, __m256* sums) {
    if constexpr (kX4) {
      ScoresRowX4<QN>(kr, q, hd, sums);
    } else {
      ScoresRow<QN>(kr, q, hd, sums);
    }
  };
  const __m256 vscale = _mm256_set1_ps(scale);
  int32_t j = 0;
  for (; j + 8 <= n_keys; j += 8) {
    // Each key's slice is a few lines of a longer cache row, a stride the
    // hardware prefetcher follows too slowly (decode at depth waited on
    // these loads): fetch the keys four groups ahead.
    for (int jj = 0; jj < 8 && j + 32 + jj < n_keys; ++jj) {
      const uint16_t* ahead = k + (j + 32 + jj) * k_stride;
      for (int64_t b = 0; b < hd; b += 32) __builtin_prefetch(ahead + b);
    }
    __m256 sums[8][QN];
    for (int jj = 0; jj < 8; ++jj) row(k + (j + jj) * k_stride, sums[jj]);
    for (int g = 0; g < QN; ++g) {
      __m256 v[8];
      for (int jj = 0; jj < 8; ++jj) v[jj] = sums[jj][g];
      _mm256_storeu_ps(out + g * out_stride + j, _mm256_mul_ps(x86::Reduce8x8(v), vscale));
    }
  }
  for (; j < n_keys; ++j) {
    __m256 sums[QN];
    row(k + j * k_stride, sums);
    for (int g = 0; g < QN; ++g) out[g * out_stride + j] = HsumF32(sums[g]) * scale;
  }
}

// G groups' accumulator rows of slot r, C vectors of 8 from the same
// column, in registers from zero while every position of the slot (r, r +
// slots, ...) is added to them in order, then stored; each V vector is
// converted once for all G.
template <int G, int C>
inline void WeightedSlot(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                         int64_t p_stride, int32_t r, int32_t slots, float* a,
                         int64_t acc_g_stride) {
  // (Fully unrolled, or GCC keeps a copy of acc in memory and stores to it
  // every step.)
  __m256 acc[G][C];
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[g][c] = _mm256_setzero_ps();
  }
  // The rows are slots * v_stride apart, too far for the hardware
  // prefetcher: fetch eight steps ahead (measured: 4 left decode at depth
  // 4096 waiting on memory, 8 and 16 about 15% faster), past the end of
  // this slot into the next one (slot r + 1 comes next for this column),
  // which short contexts, of few steps per slot, need.
  const int32_t ahead = 8 * slots;
  const int32_t span = (n_pos + slots - 1) / slots * slots;  // slot r's steps end below r + span
  for (int32_t j = r; j < n_pos; j += slots) {
    const uint16_t* vj = v + j * v_stride;
    int32_t jp = j + ahead;
    if (jp >= span && r + 1 < slots) jp -= span - 1;  // the same step count into slot r + 1
    if (jp < n_pos) __builtin_prefetch(v + jp * v_stride);
    __m256 vv[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) vv[c] = LoadHalf8(vj + 8 * c);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m256 pj = _mm256_broadcast_ss(p + g * p_stride + j);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) acc[g][c] = _mm256_fmadd_ps(vv[c], pj, acc[g][c]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) _mm256_storeu_ps(a + g * acc_g_stride + 8 * c, acc[g][c]);
  }
}

// Every slot for G groups: the columns in chunks of as many vectors as
// leave the G x C accumulators in registers (12 of the 16), then one by one.
template <int G>
void WeightedSumG(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                  int64_t p_stride, int32_t slots, float* acc, int64_t acc_g_stride,
                  int64_t acc_stride, int64_t len8) {
  constexpr int C = 12 / G >= 8 ? 8 : 12 / G >= 4 ? 4 : 12 / G >= 2 ? 2 : 1;
  for (int32_t r = 0; r < slots && r < n_pos; ++r) {
    float* a = acc + r * acc_stride;
    int64_t d = 0;
    for (; d + 8 * C <= len8; d += 8 * C) {
      WeightedSlot<G, C>(v + d, v_stride, n_pos, p, p_stride, r, slots, a + d, acc_g_stride);
    }
    for (; d < len8; d += 8) {
      WeightedSlot<G, 1>(v + d, v_stride, n_pos, p, p_stride, r, slots, a + d, acc_g_stride);
    }
  }
}

}  // namespace

namespace {

// Queries in fours (the most whose accumulators stay in registers).
template <bool kX4>
void ScoresAll(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
               int64_t hd, float scale, float* out, int64_t out_stride) {
  for (int32_t g = 0; g < n_q; g += 4) {
    const float* qg = q + g * hd;
    float* og = out + g * out_stride;
    switch (std::min(4, n_q - g)) {
      case 4: ScoresQueries<4, kX4>(k, k_stride, n_keys, qg, hd, scale, og, out_stride); break;
      case 3: ScoresQueries<3, kX4>(k, k_stride, n_keys, qg, hd, scale, og, out_stride); break;
      case 2: ScoresQueries<2, kX4>(k, k_stride, n_keys, qg, hd, scale, og, out_stride); break;
      default: ScoresQueries<1, kX4>(k, k_stride, n_keys, qg, hd, scale, og, out_stride); break;
    }
  }
}

}  // namespace

void ScoresF16X1(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride) {
  ScoresAll<false>(k, k_stride, n_keys, q, n_q, hd, scale, out, out_stride);
}

void ScoresF16X4(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride) {
  ScoresAll<true>(k, k_stride, n_keys, q, n_q, hd, scale, out, out_stride);
}

void WeightedSumF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                    int64_t acc_g_stride, int64_t acc_stride, int64_t len) {
  const int64_t len8 = len / 8 * 8;
  for (int32_t g0 = 0; g0 < n_g; g0 += 6) {
    const float* pg = p + g0 * p_stride;
    float* ag = acc + g0 * acc_g_stride;
    switch (std::min(6, n_g - g0)) {
      case 6: WeightedSumG<6>(v, v_stride, n_pos, pg, p_stride, slots, ag, acc_g_stride, acc_stride, len8); break;
      case 5: WeightedSumG<5>(v, v_stride, n_pos, pg, p_stride, slots, ag, acc_g_stride, acc_stride, len8); break;
      case 4: WeightedSumG<4>(v, v_stride, n_pos, pg, p_stride, slots, ag, acc_g_stride, acc_stride, len8); break;
      case 3: WeightedSumG<3>(v, v_stride, n_pos, pg, p_stride, slots, ag, acc_g_stride, acc_stride, len8); break;
      case 2: WeightedSumG<2>(v, v_stride, n_pos, pg, p_stride, slots, ag, acc_g_stride, acc_stride, len8); break;
      default: WeightedSumG<1>(v, v_stride, n_pos, pg, p_stride, slots, ag, acc_g_stride, acc_stride, len8); break;
    }
  }
  for (int64_t i = len8; i < len; ++i) {  // as AxpyF16's tail
    for (int32_t g = 0; g < n_g; ++g) {
      for (int32_t r = 0; r < slots && r < n_pos; ++r) acc[g * acc_g_stride + r * acc_stride + i] = 0.0f;
      for (int32_t j = 0; j < n_pos; ++j) {
        float& a = acc[g * acc_g_stride + (j % slots) * acc_stride + i];
        a = std::fma(_cvtsh_ss(v[j * v_stride + i]), p[g * p_stride + j], a);
      }
    }
  }
}

// Eight columns of the 16 rows at a, reduced r + (r + w) for w = 8, 4, 2, 1.
inline __m256 SumSlots16(const __m256* s) {
  __m256 t[8];
#pragma GCC unroll 8
  for (int r = 0; r < 8; ++r) t[r] = _mm256_add_ps(s[r], s[r + 8]);
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) t[r] = _mm256_add_ps(t[r], t[r + 4]);
  t[0] = _mm256_add_ps(t[0], t[2]);
  t[1] = _mm256_add_ps(t[1], t[3]);
  return _mm256_add_ps(t[0], t[1]);
}

void SumSlots(const float* acc, int64_t acc_stride, int32_t slots, int32_t n_live, int64_t len,
              float* out) {
  CHECK(slots == 16 || slots == 64);
  auto row = [&](int32_t r, int64_t i) {
    return r < n_live ? _mm256_loadu_ps(acc + r * acc_stride + i) : _mm256_setzero_ps();
  };
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    __m256 s[16];
    if (slots == 64) {
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r) {
        s[r] = _mm256_add_ps(_mm256_add_ps(row(r, i), row(r + 32, i)),
                             _mm256_add_ps(row(r + 16, i), row(r + 48, i)));
      }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r) s[r] = row(r, i);
    }
    _mm256_storeu_ps(out + i, SumSlots16(s));
  }
  if (i < len) generic::SumSlots(acc + i, acc_stride, slots, n_live, len - i, out + i);
}

namespace {

// Eight columns of the slots m, m + step, m + 2 step, ... below Slots,
// reduced as SumSlots reduces them (the top half's rows into the bottom
// half's, recursively: slot m + step into m at the last level), each slot
// its positions' fused multiply-adds from zero, as weighted_sum_f16 forms
// it. Slots past n_pos hold +0 in SumSlots; here they are left out: a
// multiply-add onto +0 never gives -0 (an exact zero rounds to +0), nor
// does a sum of two values that are not -0, so adding +0 to any slot or
// partial sum gives it back unchanged.
template <int Slots, int Step>
__attribute__((always_inline)) inline __m256 SlotTree(const uint16_t* v, int64_t v_stride,
                                                      int32_t n_pos, const float* p, int32_t m) {
  if constexpr (Step == Slots) {
    __m256 acc = _mm256_setzero_ps();
    for (int32_t j = m; j < n_pos; j += Slots) {
      acc = _mm256_fmadd_ps(LoadHalf8(v + j * v_stride), _mm256_broadcast_ss(p + j), acc);
    }
    return acc;
  } else {
    const __m256 low = SlotTree<Slots, 2 * Step>(v, v_stride, n_pos, p, m);
    if (m + Step >= n_pos) return low;  // the upper subtree: +0 only
    return _mm256_add_ps(low, SlotTree<Slots, 2 * Step>(v, v_stride, n_pos, p, m + Step));
  }
}

template <int Slots>
void WeightedSlotsOf(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                     float* out, int64_t len8) {
  for (int64_t d = 0; d < len8; d += 8) {
    _mm256_storeu_ps(out + d, SlotTree<Slots, 1>(v + d, v_stride, n_pos, p, 0));
  }
}

}  // namespace

void WeightedSlotsF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                      int64_t p_stride, int32_t n_g, int32_t slots, float* out, int64_t out_stride,
                      int64_t len) {
  CHECK(slots == 16 || slots == 64);
  const int64_t len8 = len / 8 * 8;
  for (int32_t g = 0; g < n_g; ++g) {
    const float* pg = p + g * p_stride;
    float* og = out + g * out_stride;
    if (slots == 64) {
      WeightedSlotsOf<64>(v, v_stride, n_pos, pg, og, len8);
    } else {
      WeightedSlotsOf<16>(v, v_stride, n_pos, pg, og, len8);
    }
    if (len8 < len) {
      generic::WeightedSlotsF16(v + len8, v_stride, n_pos, pg, 0, 1, slots, og + len8, 0,
                                len - len8);
    }
  }
}

// Generic's Rope with std::fma compiled to the instruction (the model's
// own code, built without -mfma, called libm's fmaf through the PLT: 4% of
// a batched decode step); the split halves of NeoX-style rotation eight at
// a time, the same operations per element, then RopePairs.
void Rope(float* x, int32_t n_heads, int64_t head_dim, int32_t n_rot, bool adjacent,
          const float* cos, const float* sin) {
  const int32_t half = n_rot / 2;
  for (int32_t h = 0; h < n_heads; ++h) {
    float* xh = x + h * head_dim;
    int32_t i = 0;
    if (!adjacent) {
      for (; i + 8 <= half; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(xh + i), x1 = _mm256_loadu_ps(xh + half + i);
        const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
        const __m256 x1_sin = _mm256_mul_ps(x1, s), x1_cos = _mm256_mul_ps(x1, c);
        _mm256_storeu_ps(xh + i, _mm256_fmsub_ps(x0, c, x1_sin));
        _mm256_storeu_ps(xh + half + i, _mm256_fmadd_ps(x0, s, x1_cos));
      }
    }
    RopePairs(xh, i, n_rot, adjacent, cos, sin);
  }
}

void Axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void Add(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += x[i];
}

float DotF32(const float* x, const float* y, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
  }
  float sum = HsumF32(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

void Scale(float* y, float a, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), va));
  for (; i < n; ++i) y[i] *= a;
}

}  // namespace glint::kernels::avx2
