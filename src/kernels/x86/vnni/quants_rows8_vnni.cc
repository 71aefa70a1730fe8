// The eight-row Q4_K and Q6_K kernels of quants_rows8.cc with AVX-VNNI:
// vpdpbusd sums four u8 x s8 products straight into i32 lanes, where AVX2
// needs maddubs, adds and a madd. Only the integer sums change instructions;
// they are exact, so every lane still performs VecDotQ4KQ8KBatched's (or
// VecDotQ6KQ8KBatched's) float operations bit for bit. Built twice
// (vnni.h); only called when the CPU has VNNI.

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/vnni/vnni.h"
#include "kernels/x86/rows8.h"

namespace glint::kernels::GLINT_VNNI_NAMESPACE {
namespace {

using x86::I16Pair;
using x86::Q4KRows8;
using x86::Q6KRows8;

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

}  // namespace

void VecDotQ4KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state) {
  const auto* bx = static_cast<const Q4KRows8*>(xr);
  const auto* by = static_cast<const BlockQ8K*>(y);
  __m256 acc = _mm256_loadu_ps(state), acc_min = _mm256_loadu_ps(state + 8);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q4KRows8& b = bx[i];
    const BlockQ8K& a = by[i];
    const __m256 dy = _mm256_set1_ps(a.d);
    const __m256 d = _mm256_mul_ps(_mm256_loadu_ps(b.d), dy);
    const __m256 dmin = _mm256_mul_ps(_mm256_loadu_ps(b.dmin), dy);
    // One accumulator per sub-block: vpdpbusd's latency would otherwise
    // serialize the eight products of a sub-block.
    __m256i p[8];
    for (int s = 0; s < 8; ++s) p[s] = _mm256_setzero_si256();
    // Fully unrolled: GCC 12 otherwise rotates p[] through registers with
    // a copy per product and spills one of them.
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s) {
        p[s] = DpbusdQuad(p[s], Load256(b.qs[s][q]), a.qs + 32 * s + 4 * q);
      }
    }
    for (int g = 0; g < 4; ++g) {
      const __m256i sumi = _mm256_add_epi32(_mm256_mullo_epi32(p[2 * g], Load256(b.sc[2 * g])),
                                            _mm256_mullo_epi32(p[2 * g + 1], Load256(b.sc[2 * g + 1])));
      const int16_t* bs = a.bsums + 4 * g;
      const __m256i mins = _mm256_madd_epi16(
          Load256(b.mins[g]), _mm256_set1_epi32(I16Pair(bs[0] + bs[1], bs[2] + bs[3])));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), d, acc);
      acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), dmin, acc_min);
    }
  }
  _mm256_storeu_ps(state, acc);
  _mm256_storeu_ps(state + 8, acc_min);
}

// VecDotQ4KQ8KBatchedRows8 for two tokens: each packed weight vector is
// loaded once for both. The sub-blocks go in two halves of four, so that the
// two tokens' sums (eight chains of vpdpbusd) fit in registers; per token the
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
    for (int half = 0; half < 2; ++half) {
      __m256i p0[4], p1[4];
      for (int k = 0; k < 4; ++k) p0[k] = p1[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const int s = 4 * half + k;
          const __m256i w = Load256(b.qs[s][q]);
          p0[k] = DpbusdQuad(p0[k], w, a0.qs + 32 * s + 4 * q);
          p1[k] = DpbusdQuad(p1[k], w, a1.qs + 32 * s + 4 * q);
        }
      }
      for (int gg = 0; gg < 2; ++gg) {
        const int g = 2 * half + gg;
        const __m256i sc0 = Load256(b.sc[2 * g]), sc1 = Load256(b.sc[2 * g + 1]);
        const __m256i sumi0 = _mm256_add_epi32(_mm256_mullo_epi32(p0[2 * gg], sc0),
                                               _mm256_mullo_epi32(p0[2 * gg + 1], sc1));
        const __m256i sumi1 = _mm256_add_epi32(_mm256_mullo_epi32(p1[2 * gg], sc0),
                                               _mm256_mullo_epi32(p1[2 * gg + 1], sc1));
        const int16_t* bs0 = a0.bsums + 4 * g;
        const int16_t* bs1 = a1.bsums + 4 * g;
        const __m256i mins0 = _mm256_madd_epi16(
            Load256(b.mins[g]), _mm256_set1_epi32(I16Pair(bs0[0] + bs0[1], bs0[2] + bs0[3])));
        const __m256i mins1 = _mm256_madd_epi16(
            Load256(b.mins[g]), _mm256_set1_epi32(I16Pair(bs1[0] + bs1[1], bs1[2] + bs1[3])));
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
  }
  _mm256_storeu_ps(state, acc0);
  _mm256_storeu_ps(state + 8, min0);
  _mm256_storeu_ps(state + 16, acc1);
  _mm256_storeu_ps(state + 24, min1);
}

void VecDotQ6KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state) {
  const auto* bx = static_cast<const Q6KRows8*>(xr);
  const auto* by = static_cast<const BlockQ8K*>(y);
  __m256 acc = _mm256_loadu_ps(state);  // state + 8 (no min term) stays 0
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const Q6KRows8& b = bx[i];
    const BlockQ8K& a = by[i];
    __m256i offset = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i bs = _mm256_set1_epi32(I16Pair(a.bsums[2 * j], a.bsums[2 * j + 1]));
      offset = _mm256_add_epi32(offset, _mm256_madd_epi16(Load256(b.sc_pair[j]), bs));
    }
    __m256i sumi = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset), 5);
    // Eight sub-blocks (four runs of 32) at a time, one accumulator each,
    // so that vpdpbusd's latency does not serialize them.
    for (int v0 = 0; v0 < 8; v0 += 4) {
      __m256i p[8];
      for (int k = 0; k < 8; ++k) p[k] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {  // sub-block 2 v0 + k: run v0 + k/2, quads 4 (k%2) ..
          const int v = v0 + k / 2, qq = 4 * (k % 2) + q;
          p[k] = DpbusdQuad(p[k], Load256(b.qs[v][qq]), a.qs + 32 * v + 4 * qq);
        }
      }
      for (int k = 0; k < 8; ++k) {
        // sc_dup holds the scale in both i16 halves; the high one, sign-extended.
        const __m256i sc = _mm256_srai_epi32(Load256(b.sc_dup[2 * v0 + k]), 16);
        sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p[k], sc));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(a.d),
                          _mm256_mul_ps(_mm256_cvtepi32_ps(sumi), _mm256_loadu_ps(b.d)), acc);
  }
  _mm256_storeu_ps(state, acc);
}

// VecDotQ6KQ8KBatchedRows8 for two tokens: each packed weight vector is
// loaded once for both; four sub-blocks at a time, so that the two tokens'
// eight chains of vpdpbusd fit in registers. Per token the float operations
// are the one-token kernel's.
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
      offset0 = _mm256_add_epi32(
          offset0, _mm256_madd_epi16(sc, _mm256_set1_epi32(I16Pair(a0.bsums[2 * j], a0.bsums[2 * j + 1]))));
      offset1 = _mm256_add_epi32(
          offset1, _mm256_madd_epi16(sc, _mm256_set1_epi32(I16Pair(a1.bsums[2 * j], a1.bsums[2 * j + 1]))));
    }
    __m256i sumi0 = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset0), 5);
    __m256i sumi1 = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), offset1), 5);
    for (int v0 = 0; v0 < 8; v0 += 2) {
      __m256i p0[4], p1[4];
      for (int k = 0; k < 4; ++k) p0[k] = p1[k] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {  // sub-block 2 v0 + k: run v0 + k/2, quads 4 (k%2) ..
          const int v = v0 + k / 2, qq = 4 * (k % 2) + q;
          const __m256i w = Load256(b.qs[v][qq]);
          p0[k] = DpbusdQuad(p0[k], w, a0.qs + 32 * v + 4 * qq);
          p1[k] = DpbusdQuad(p1[k], w, a1.qs + 32 * v + 4 * qq);
        }
      }
      for (int k = 0; k < 4; ++k) {
        const __m256i sc = _mm256_srai_epi32(Load256(b.sc_dup[2 * v0 + k]), 16);
        sumi0 = _mm256_add_epi32(sumi0, _mm256_mullo_epi32(p0[k], sc));
        sumi1 = _mm256_add_epi32(sumi1, _mm256_mullo_epi32(p1[k], sc));
      }
    }
    const __m256 dx = _mm256_loadu_ps(b.d);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(a0.d), _mm256_mul_ps(_mm256_cvtepi32_ps(sumi0), dx), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(a1.d), _mm256_mul_ps(_mm256_cvtepi32_ps(sumi1), dx), acc1);
  }
  _mm256_storeu_ps(state, acc0);
  _mm256_storeu_ps(state + 16, acc1);
}

}  // namespace glint::kernels::GLINT_VNNI_NAMESPACE
