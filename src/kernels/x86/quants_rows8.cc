// Q4_K and Q6_K in the reference's batched order for eight weight rows at once, with
// the vector lanes holding rows rather than elements. A row-at-a-time kernel
// must sum its eight i32 lanes horizontally once per 64 elements (the
// reference's order puts one f32 fused multiply-add there), and those sums
// cost as much as the products themselves. With rows in lanes every sum is
// already where its fused multiply-add needs it.
//
// The rows are first repacked (Q4KRows8), once per row tile, and then dotted
// against every token of the prompt, so the repacking is amortized over the
// tokens. Each lane performs exactly the float operations of
// VecDotQ4KQ8KBatched for its row (same integer sums, same products, the
// same fused multiply-adds in the same order), so the results are
// bit-identical to it; tests/kernels holds them to it.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/rows8.h"
#include "kernels/x86/simd.h"

namespace glint::kernels::avx2 {
namespace {

using x86::I16Pair;
using x86::Q4KRows8;
using x86::Q6KRows8;
using x86::TransposeQuads;

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

}  // namespace

size_t Q4KRows8BlockBytes() { return sizeof(Q4KRows8); }

void RepackQ4KRows8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  auto* out = static_cast<Q4KRows8*>(dst);
  const BlockQ4K* rows[8];
  for (int r = 0; r < 8; ++r) {
    rows[r] = reinterpret_cast<const BlockQ4K*>(static_cast<const uint8_t*>(x) + r * x_row_bytes);
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    Q4KRows8& o = out[i];
    for (int r = 0; r < 8; ++r) {
      const BlockQ4K& b = rows[r][i];
      o.d[r] = HalfToFloatF16c(b.d);
      o.dmin[r] = HalfToFloatF16c(b.dmin);
      uint8_t sc[8], m[8];
      UnpackScalesMinsK4(b.scales, sc, m);
      for (int s = 0; s < 8; ++s) o.sc[s][r] = sc[s];
      for (int g = 0; g < 4; ++g) o.mins[g][r] = m[2 * g] | (m[2 * g + 1] << 16);
    }
    for (int g = 0; g < 4; ++g) {
      // Sub-block 2g is the low nibbles of qs[32g ..], 2g+1 the high ones.
      for (int h = 0; h < 2; ++h) {
        __m256i v[8];
        for (int r = 0; r < 8; ++r) {
          const __m256i q = Load256(rows[r][i].qs + 32 * g);
          v[r] = _mm256_and_si256(h == 0 ? q : _mm256_srli_epi16(q, 4), low4);
        }
        TransposeQuads(v, o.qs[2 * g + h]);
      }
    }
  }
}

void VecDotQ4KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state) {
  const auto* bx = static_cast<const Q4KRows8*>(xr);
  const auto* by = static_cast<const BlockQ8K*>(y);
  __m256 acc = _mm256_loadu_ps(state), acc_min = _mm256_loadu_ps(state + 8);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q4KRows8& b = bx[i];
    const BlockQ8K& a = by[i];
    const __m256 dy = _mm256_set1_ps(a.d);
    // d_x * d_y as the single-row kernel multiplies them.
    const __m256 d = _mm256_mul_ps(_mm256_loadu_ps(b.d), dy);
    const __m256 dmin = _mm256_mul_ps(_mm256_loadu_ps(b.dmin), dy);
    for (int g = 0; g < 4; ++g) {
      __m256i sumi = _mm256_setzero_si256();
      for (int s = 2 * g; s < 2 * g + 2; ++s) {
        // Eight quads of products in i16: |sum| <= 8 * 2 * 15 * 127 < 2^15.
        __m256i p = _mm256_setzero_si256();
        for (int q = 0; q < 8; ++q) {
          int32_t a4;
          std::memcpy(&a4, a.qs + 32 * s + 4 * q, 4);
          p = _mm256_add_epi16(p, _mm256_maddubs_epi16(Load256(b.qs[s][q]), _mm256_set1_epi32(a4)));
        }
        const __m256i sc = Load256(b.sc[s]);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16))));
      }
      const int16_t* bs = a.bsums + 4 * g;
      const uint32_t pair = static_cast<uint16_t>(bs[0] + bs[1]) |
                            (static_cast<uint32_t>(static_cast<uint16_t>(bs[2] + bs[3])) << 16);
      const __m256i mins =
          _mm256_madd_epi16(Load256(b.mins[g]), _mm256_set1_epi32(static_cast<int32_t>(pair)));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), d, acc);
      acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), dmin, acc_min);
    }
  }
  _mm256_storeu_ps(state, acc);
  _mm256_storeu_ps(state + 8, acc_min);
}

// VecDotQ4KQ8KBatchedRows8 for two tokens: each packed weight vector is
// loaded once and multiplied by both tokens' activations. Per token the
// operations are those of the one-token kernel, in its order.
void VecDotQ4KQ8KBatchedRows8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                float* state) {
  const auto* bx = static_cast<const Q4KRows8*>(xr);
  const auto* by0 = static_cast<const BlockQ8K*>(y);
  const auto* by1 = reinterpret_cast<const BlockQ8K*>(static_cast<const uint8_t*>(y) + y_stride);
  __m256 acc0 = _mm256_loadu_ps(state), min0 = _mm256_loadu_ps(state + 8);
  __m256 acc1 = _mm256_loadu_ps(state + 16), min1 = _mm256_loadu_ps(state + 24);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q4KRows8& b = bx[i];
    const BlockQ8K& a0 = by0[i];
    const BlockQ8K& a1 = by1[i];
    for (int g = 0; g < 4; ++g) {
      __m256i sumi0 = _mm256_setzero_si256(), sumi1 = _mm256_setzero_si256();
      for (int s = 2 * g; s < 2 * g + 2; ++s) {
        __m256i p0 = _mm256_setzero_si256(), p1 = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q) {
          int32_t q0, q1;
          std::memcpy(&q0, a0.qs + 32 * s + 4 * q, 4);
          std::memcpy(&q1, a1.qs + 32 * s + 4 * q, 4);
          const __m256i w = Load256(b.qs[s][q]);
          p0 = _mm256_add_epi16(p0, _mm256_maddubs_epi16(w, _mm256_set1_epi32(q0)));
          p1 = _mm256_add_epi16(p1, _mm256_maddubs_epi16(w, _mm256_set1_epi32(q1)));
        }
        const __m256i sc = Load256(b.sc[s]);
        const __m256i sc2 = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
        sumi0 = _mm256_add_epi32(sumi0, _mm256_madd_epi16(p0, sc2));
        sumi1 = _mm256_add_epi32(sumi1, _mm256_madd_epi16(p1, sc2));
      }
      const int16_t* bs0 = a0.bsums + 4 * g;
      const int16_t* bs1 = a1.bsums + 4 * g;
      const __m256i mins0 = _mm256_madd_epi16(
          Load256(b.mins[g]), _mm256_set1_epi32(I16Pair(bs0[0] + bs0[1], bs0[2] + bs0[3])));
      const __m256i mins1 = _mm256_madd_epi16(
          Load256(b.mins[g]), _mm256_set1_epi32(I16Pair(bs1[0] + bs1[1], bs1[2] + bs1[3])));
      // d_x * d_y and dmin_x * d_y as the one-token kernel multiplies them.
      const __m256 dx = _mm256_loadu_ps(b.d), mx = _mm256_loadu_ps(b.dmin);
      acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi0), _mm256_mul_ps(dx, _mm256_set1_ps(a0.d)),
                             acc0);
      min0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins0), _mm256_mul_ps(mx, _mm256_set1_ps(a0.d)),
                             min0);
      acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi1), _mm256_mul_ps(dx, _mm256_set1_ps(a1.d)),
                             acc1);
      min1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins1), _mm256_mul_ps(mx, _mm256_set1_ps(a1.d)),
                             min1);
    }
  }
  _mm256_storeu_ps(state, acc0);
  _mm256_storeu_ps(state + 8, min0);
  _mm256_storeu_ps(state + 16, acc1);
  _mm256_storeu_ps(state + 24, min1);
}

size_t Q6KRows8BlockBytes() { return sizeof(Q6KRows8); }

void RepackQ6KRows8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  auto* out = static_cast<Q6KRows8*>(dst);
  const BlockQ6K* rows[8];
  for (int r = 0; r < 8; ++r) {
    rows[r] = reinterpret_cast<const BlockQ6K*>(static_cast<const uint8_t*>(x) + r * x_row_bytes);
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x30);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    Q6KRows8& o = out[i];
    for (int r = 0; r < 8; ++r) {
      const BlockQ6K& b = rows[r][i];
      o.d[r] = HalfToFloatF16c(b.d);
      for (int j = 0; j < 8; ++j) o.sc_pair[j][r] = I16Pair(b.scales[2 * j], b.scales[2 * j + 1]);
      for (int s = 0; s < 16; ++s) o.sc_dup[s][r] = I16Pair(b.scales[s], b.scales[s]);
    }
    // The 6-bit values of run v = 4h + k (elements 128h + 32k ..), unpacked
    // as in VecDotQ6KQ8K, then transposed across the rows.
    for (int h = 0; h < 2; ++h) {
      __m256i q[4][8];
      for (int r = 0; r < 8; ++r) {
        const BlockQ6K& b = rows[r][i];
        const __m256i ql0 = Load256(b.ql + 64 * h);
        const __m256i ql1 = Load256(b.ql + 64 * h + 32);
        const __m256i qh = Load256(b.qh + 32 * h);
        q[0][r] = _mm256_or_si256(_mm256_and_si256(ql0, low4),
                                  _mm256_and_si256(_mm256_slli_epi16(qh, 4), two_bits));
        q[1][r] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                  _mm256_and_si256(_mm256_slli_epi16(qh, 2), two_bits));
        q[2][r] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                  _mm256_and_si256(qh, two_bits));
        q[3][r] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                  _mm256_and_si256(_mm256_srli_epi16(qh, 2), two_bits));
      }
      for (int k = 0; k < 4; ++k) TransposeQuads(q[k], o.qs[4 * h + k]);
    }
  }
}

void VecDotQ6KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state) {
  const auto* bx = static_cast<const Q6KRows8*>(xr);
  const auto* by = static_cast<const BlockQ8K*>(y);
  __m256 acc = _mm256_loadu_ps(state);  // state + 8 (no min term) stays 0
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q6KRows8& b = bx[i];
    const BlockQ8K& a = by[i];
    // isum = sum_s sc_s * (sum q y) - 32 * sum_s sc_s * bsums_s (exact).
    __m256i offset = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i bs = _mm256_set1_epi32(I16Pair(a.bsums[2 * j], a.bsums[2 * j + 1]));
      offset = _mm256_add_epi32(offset, _mm256_madd_epi16(Load256(b.sc_pair[j]), bs));
    }
    __m256i sumi = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset), 5);
    for (int v = 0; v < 8; ++v) {
      for (int half = 0; half < 2; ++half) {  // sub-block 2v + half: quads 4 half ..
        const __m256i sc = Load256(b.sc_dup[2 * v + half]);
        for (int q = 4 * half; q < 4 * half + 4; q += 2) {
          // Two quads of products in i16: |sum| <= 2 * 2 * 63 * 127 < 2^15.
          int32_t a0, a1;
          std::memcpy(&a0, a.qs + 32 * v + 4 * q, 4);
          std::memcpy(&a1, a.qs + 32 * v + 4 * q + 4, 4);
          const __m256i p =
              _mm256_add_epi16(_mm256_maddubs_epi16(Load256(b.qs[v][q]), _mm256_set1_epi32(a0)),
                               _mm256_maddubs_epi16(Load256(b.qs[v][q + 1]), _mm256_set1_epi32(a1)));
          sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, sc));
        }
      }
    }
    // fma(d_y, isum * d_x, acc), as VecDotQ6KQ8KBatched.
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a.d),
                          _mm256_mul_ps(_mm256_cvtepi32_ps(sumi), _mm256_loadu_ps(b.d)), acc);
  }
  _mm256_storeu_ps(state, acc);
}

// VecDotQ6KQ8KBatchedRows8 for two tokens: each packed weight vector is
// loaded once for both. Per token the operations are those of the one-token
// kernel, in its order (the integer sums are exact in any order).
void VecDotQ6KQ8KBatchedRows8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                float* state) {
  const auto* bx = static_cast<const Q6KRows8*>(xr);
  const auto* by0 = static_cast<const BlockQ8K*>(y);
  const auto* by1 = reinterpret_cast<const BlockQ8K*>(static_cast<const uint8_t*>(y) + y_stride);
  __m256 acc0 = _mm256_loadu_ps(state), acc1 = _mm256_loadu_ps(state + 16);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q6KRows8& b = bx[i];
    const BlockQ8K& a0 = by0[i];
    const BlockQ8K& a1 = by1[i];
    __m256i offset0 = _mm256_setzero_si256(), offset1 = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i sc = Load256(b.sc_pair[j]);
      offset0 = _mm256_add_epi32(offset0, _mm256_madd_epi16(sc, _mm256_set1_epi32(I16Pair(
                                                                     a0.bsums[2 * j], a0.bsums[2 * j + 1]))));
      offset1 = _mm256_add_epi32(offset1, _mm256_madd_epi16(sc, _mm256_set1_epi32(I16Pair(
                                                                     a1.bsums[2 * j], a1.bsums[2 * j + 1]))));
    }
    __m256i sumi0 = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset0), 5);
    __m256i sumi1 = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset1), 5);
    for (int v = 0; v < 8; ++v) {
      for (int half = 0; half < 2; ++half) {
        const __m256i sc = Load256(b.sc_dup[2 * v + half]);
#pragma GCC unroll 2
        for (int q = 4 * half; q < 4 * half + 4; q += 2) {
          int32_t x0, x1, z0, z1;
          std::memcpy(&x0, a0.qs + 32 * v + 4 * q, 4);
          std::memcpy(&x1, a0.qs + 32 * v + 4 * q + 4, 4);
          std::memcpy(&z0, a1.qs + 32 * v + 4 * q, 4);
          std::memcpy(&z1, a1.qs + 32 * v + 4 * q + 4, 4);
          const __m256i w0 = Load256(b.qs[v][q]), w1 = Load256(b.qs[v][q + 1]);
          const __m256i p0 = _mm256_add_epi16(_mm256_maddubs_epi16(w0, _mm256_set1_epi32(x0)),
                                              _mm256_maddubs_epi16(w1, _mm256_set1_epi32(x1)));
          const __m256i p1 = _mm256_add_epi16(_mm256_maddubs_epi16(w0, _mm256_set1_epi32(z0)),
                                              _mm256_maddubs_epi16(w1, _mm256_set1_epi32(z1)));
          sumi0 = _mm256_add_epi32(sumi0, _mm256_madd_epi16(p0, sc));
          sumi1 = _mm256_add_epi32(sumi1, _mm256_madd_epi16(p1, sc));
        }
      }
    }
    const __m256 dx = _mm256_loadu_ps(b.d);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(a0.d), _mm256_mul_ps(_mm256_cvtepi32_ps(sumi0), dx), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(a1.d), _mm256_mul_ps(_mm256_cvtepi32_ps(sumi1), dx), acc1);
  }
  _mm256_storeu_ps(state, acc0);
  _mm256_storeu_ps(state + 16, acc1);
}

}  // namespace glint::kernels::avx2
