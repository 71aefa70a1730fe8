// AVX2 multi-token dot products for prefill: one weight row against four
// activation rows. A weight block is loaded and unpacked once and dotted
// against the four tokens, which is where the single-token kernels spend
// most of their time in a matrix product.
//
// Each output keeps its own accumulators and sees exactly the float
// operations, in the same order, of the single-token kernel it stands for
// (quants_legacy.cc, quants_k.cc): the integer sums are exact whatever the
// instruction sequence, and where four outputs share one vector, each lane
// performs the scalar kernel's fused multiply-add. So out[j] is
// bit-identical to that kernel's dot(x, y_j); tests/kernels holds them to it.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/q6k.h"
#include "kernels/x86/simd.h"
#include "kernels/x86/x8.h"

namespace glint::kernels::avx2 {
namespace {

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

template <typename Block>
inline const Block* Row(const void* y, size_t stride, int j) {
  return reinterpret_cast<const Block*>(static_cast<const uint8_t*>(y) + j * stride);
}

// The horizontal sums of four i32 vectors as [sum(a), sum(b), sum(c),
// sum(d)] (exact: integer additions in any order).
inline __m128i Hsum4I32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

inline void UnpackScales(const uint8_t* packed, uint8_t* sc, uint8_t* m) {
  UnpackScalesMinsK4(packed, sc, m);
}

// Up to eight tokens against one row, with the activations' block scales
// already in float (QuantizedActivations::scales): per token and block the
// work is one integer dot, a conversion, the product of the two scales and
// the fused multiply-add of the single-token kernel. The T accumulators stay
// in registers, so T is a template argument.
template <int T>
void Q4_1Q8_1XN(int64_t n, const void* x, const void* y, size_t y_stride, const float* scales,
                size_t scales_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const BlockQ8_1* by[T];
  for (int j = 0; j < T; ++j) by[j] = Row<BlockQ8_1>(y, y_stride, j);
  const int64_t nb = n / kQK;
  __m256 acc[T];
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  __m256 summs = _mm256_setzero_ps();  // lane j: token j's offset term
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = UnpackNibbles32(bx[i].qs);
    const __m256 dx = _mm256_set1_ps(HalfToFloatF16c(bx[i].d));
    const float* dy = scales + 2 * i * scales_stride;
    summs = _mm256_fmadd_ps(_mm256_set1_ps(HalfToFloatF16c(bx[i].m)),
                            _mm256_loadu_ps(dy + scales_stride), summs);
    for (int j = 0; j < T; ++j) {
      const __m256 d = _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + j));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(qx, Load256(by[j][i].qs))), acc[j]);
    }
  }
  alignas(32) float sm[8];
  _mm256_store_ps(sm, summs);
  for (int j = 0; j < T; ++j) out[j] = HsumF32(acc[j]) + sm[j];
}

template <>
void Q4_1Q8_1XN<8>(int64_t n, const void* x, const void* y, size_t y_stride, const float* scales,
                   size_t scales_stride, float* out) {
  x86::Q4_1Q8_1X8(n, x, y, y_stride, scales, scales_stride, out,
                  [](__m256i qx, const uint8_t* row) { return DotU8I8(qx, Load256(row)); });
}

template <int T>
void Q8_0Q8_0XN(int64_t n, const void* x, const void* y, size_t y_stride, const float* scales,
                size_t scales_stride, float* out) {
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const BlockQ8_0* by[T];
  for (int j = 0; j < T; ++j) by[j] = Row<BlockQ8_0>(y, y_stride, j);
  const int64_t nb = n / kQK;
  __m256 acc[T];
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = Load256(bx[i].qs);
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    const __m256 dx = _mm256_set1_ps(HalfToFloatF16c(bx[i].d));
    const float* dy = scales + 2 * i * scales_stride;
    for (int j = 0; j < T; ++j) {
      const __m256i qy = _mm256_sign_epi8(Load256(by[j][i].qs), qx);
      const __m256 d = _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + j));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(ax, qy)), acc[j]);
    }
  }
  for (int j = 0; j < T; ++j) out[j] = HsumF32(acc[j]);
}

// The eight i32 sums of v[0..7] as one vector [sum v0, ..., sum v7]
// (exact: integer additions in any order).
inline __m256i Hsum8I32(const __m256i* v) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                          _mm256_permute2x128_si256(a, b, 0x31));
}

// VecDotQ4KQ8K for up to eight tokens: a block's nibbles and scales are
// unpacked once; each token's integer sums are exact as before, and its two
// fused multiply-adds per block (scaled sums, mins) run in lane t of acc and
// acc_min, so out[t] = acc[t] - acc_min[t] as the single-token kernel.
template <int T>
void Q4KQ8KXN(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4K*>(x);
  const BlockQ8K* by[T];
  for (int j = 0; j < T; ++j) by[j] = Row<BlockQ8K>(y, y_stride, j);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], m[8];
    UnpackScales(bx[i].scales, sc, m);
    __m256i sumi[8], mins[8];
    for (int j = 0; j < 8; ++j) sumi[j] = mins[j] = _mm256_setzero_si256();
    for (int g = 0; g < 4; ++g) {
      const __m256i q = Load256(bx[i].qs + 32 * g);
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      const __m256i s0 = _mm256_set1_epi16(sc[2 * g]), s1 = _mm256_set1_epi16(sc[2 * g + 1]);
      for (int j = 0; j < T; ++j) {
        const __m256i p0 = _mm256_maddubs_epi16(lo, Load256(by[j][i].qs + 64 * g));
        const __m256i p1 = _mm256_maddubs_epi16(hi, Load256(by[j][i].qs + 64 * g + 32));
        sumi[j] = _mm256_add_epi32(sumi[j], _mm256_add_epi32(_mm256_madd_epi16(p0, s0),
                                                             _mm256_madd_epi16(p1, s1)));
      }
    }
    // The mins against each token's bsums: [m0 m0 m1 m1 ... m7 m7] as i16.
    uint64_t m8;
    std::memcpy(&m8, m, 8);
    const __m128i mv = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, mv));
    alignas(32) float dy[8] = {};
    for (int j = 0; j < T; ++j) {
      mins[j] = _mm256_madd_epi16(Load256(by[j][i].bsums), m16);
      dy[j] = by[j][i].d;
    }
    const __m256 vdy = _mm256_load_ps(dy);
    const __m256 d = _mm256_mul_ps(_mm256_set1_ps(HalfToFloatF16c(bx[i].d)), vdy);
    const __m256 dmin = _mm256_mul_ps(_mm256_set1_ps(HalfToFloatF16c(bx[i].dmin)), vdy);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Hsum8I32(sumi)), d, acc);
    acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Hsum8I32(mins)), dmin, acc_min);
  }
  alignas(32) float r[8];
  _mm256_store_ps(r, _mm256_sub_ps(acc, acc_min));
  for (int j = 0; j < T; ++j) out[j] = r[j];
}

// VecDotQ6KQ8K for up to eight tokens (x86/q6k.h).
template <int T>
void Q6KQ8KXN(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  x86::Q6KQ8KXN<T, x86::Q6KMaddubsSums>(n, x, y, y_stride, out);
}

}  // namespace

void VecDotQ4_0Q8_0X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4_0*>(x);
  const BlockQ8_0* by[4];
  for (int j = 0; j < 4; ++j) by[j] = Row<BlockQ8_0>(y, y_stride, j);
  const int64_t nb = n / kQK;
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = _mm256_sub_epi8(UnpackNibbles32(bx[i].qs), eight);
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    const float dx = HalfToFloatF16c(bx[i].d);
    for (int j = 0; j < 4; ++j) {
      const __m256i qy = _mm256_sign_epi8(Load256(by[j][i].qs), qx);
      const __m256 d = _mm256_set1_ps(dx * HalfToFloatF16c(by[j][i].d));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(ax, qy)), acc[j]);
    }
  }
  for (int j = 0; j < 4; ++j) out[j] = HsumF32(acc[j]);
}

void VecDotQ4_1Q8_1X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const BlockQ8_1* by[4];
  for (int j = 0; j < 4; ++j) by[j] = Row<BlockQ8_1>(y, y_stride, j);
  const int64_t nb = n / kQK;
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  __m128 summs = _mm_setzero_ps();  // lane j: token j's offset term
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = UnpackNibbles32(bx[i].qs);
    const float dx = HalfToFloatF16c(bx[i].d);
    const __m128 s = _mm_setr_ps(HalfToFloatF16c(by[0][i].s), HalfToFloatF16c(by[1][i].s),
                                 HalfToFloatF16c(by[2][i].s), HalfToFloatF16c(by[3][i].s));
    summs = _mm_fmadd_ps(_mm_set1_ps(HalfToFloatF16c(bx[i].m)), s, summs);
    for (int j = 0; j < 4; ++j) {
      const __m256 d = _mm256_set1_ps(dx * HalfToFloatF16c(by[j][i].d));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(qx, Load256(by[j][i].qs))), acc[j]);
    }
  }
  alignas(16) float sm[4];
  _mm_store_ps(sm, summs);
  for (int j = 0; j < 4; ++j) out[j] = HsumF32(acc[j]) + sm[j];
}

void VecDotQ8_0Q8_0X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const BlockQ8_0* by[4];
  for (int j = 0; j < 4; ++j) by[j] = Row<BlockQ8_0>(y, y_stride, j);
  const int64_t nb = n / kQK;
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = Load256(bx[i].qs);
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    const float dx = HalfToFloatF16c(bx[i].d);
    for (int j = 0; j < 4; ++j) {
      const __m256i qy = _mm256_sign_epi8(Load256(by[j][i].qs), qx);
      const __m256 d = _mm256_set1_ps(dx * HalfToFloatF16c(by[j][i].d));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(ax, qy)), acc[j]);
    }
  }
  for (int j = 0; j < 4; ++j) out[j] = HsumF32(acc[j]);
}

void VecDotQ4_1Q8_1X8(int64_t n, const void* x, const void* y, size_t y_stride,
                      const float* scales, size_t scales_stride, int n_tokens, float* out) {
  GLINT_DISPATCH_XN(Q4_1Q8_1XN, n_tokens, n, x, y, y_stride, scales, scales_stride, out);
}

void VecDotQ8_0Q8_0X8(int64_t n, const void* x, const void* y, size_t y_stride,
                      const float* scales, size_t scales_stride, int n_tokens, float* out) {
  GLINT_DISPATCH_XN(Q8_0Q8_0XN, n_tokens, n, x, y, y_stride, scales, scales_stride, out);
}

void VecDotQ4KQ8KX8(int64_t n, const void* x, const void* y, size_t y_stride, const float*,
                    size_t, int n_tokens, float* out) {
  GLINT_DISPATCH_XN(Q4KQ8KXN, n_tokens, n, x, y, y_stride, out);
}

void VecDotQ6KQ8KX8(int64_t n, const void* x, const void* y, size_t y_stride, const float*,
                    size_t, int n_tokens, float* out) {
  GLINT_DISPATCH_XN(Q6KQ8KXN, n_tokens, n, x, y, y_stride, out);
}

// VecDotQ4KQ8KBatched for four tokens: per 64 elements, lane j of acc (and
// acc_min) takes token j's fused multiply-add.
void VecDotQ4KQ8KBatchedX4(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4K*>(x);
  const BlockQ8K* by[4];
  for (int j = 0; j < 4; ++j) by[j] = Row<BlockQ8K>(y, y_stride, j);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m128 acc = _mm_setzero_ps(), acc_min = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    uint8_t sc[8], m[8];
    UnpackScales(bx[i].scales, sc, m);
    const __m128 dy = _mm_setr_ps(by[0][i].d, by[1][i].d, by[2][i].d, by[3][i].d);
    const __m128 d = _mm_mul_ps(_mm_set1_ps(HalfToFloatF16c(bx[i].d)), dy);
    const __m128 dmin = _mm_mul_ps(_mm_set1_ps(HalfToFloatF16c(bx[i].dmin)), dy);
    // Mins: per token, madd gives m_k * (bsums[2k] + bsums[2k+1]) for the 8
    // sub-blocks; hadd pairs them into the 4 groups of 64, then a shuffle
    // lines up [token 0..3] per group: lanes 0-3 group 0 (or 1), 4-7 group 2
    // (or 3).
    uint64_t m8;
    std::memcpy(&m8, m, 8);
    const __m128i mv = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, mv));
    __m256i mt[4];
    for (int j = 0; j < 4; ++j) mt[j] = _mm256_madd_epi16(Load256(by[j][i].bsums), m16);
    const __m256 h01 = _mm256_castsi256_ps(_mm256_hadd_epi32(mt[0], mt[1]));
    const __m256 h23 = _mm256_castsi256_ps(_mm256_hadd_epi32(mt[2], mt[3]));
    const __m256 mins_even = _mm256_cvtepi32_ps(
        _mm256_castps_si256(_mm256_shuffle_ps(h01, h23, _MM_SHUFFLE(2, 0, 2, 0))));
    const __m256 mins_odd = _mm256_cvtepi32_ps(
        _mm256_castps_si256(_mm256_shuffle_ps(h01, h23, _MM_SHUFFLE(3, 1, 3, 1))));
    const __m128 mins[4] = {_mm256_castps256_ps128(mins_even), _mm256_castps256_ps128(mins_odd),
                            _mm256_extractf128_ps(mins_even, 1),
                            _mm256_extractf128_ps(mins_odd, 1)};
    for (int g = 0; g < 4; ++g) {
      const __m256i q = Load256(bx[i].qs + 32 * g);
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      const __m256i s0 = _mm256_set1_epi16(sc[2 * g]);
      const __m256i s1 = _mm256_set1_epi16(sc[2 * g + 1]);
      __m256i sumi[4];
      for (int j = 0; j < 4; ++j) {
        const __m256i p0 = _mm256_maddubs_epi16(lo, Load256(by[j][i].qs + 64 * g));
        const __m256i p1 = _mm256_maddubs_epi16(hi, Load256(by[j][i].qs + 64 * g + 32));
        sumi[j] = _mm256_add_epi32(_mm256_madd_epi16(p0, s0), _mm256_madd_epi16(p1, s1));
      }
      const __m128 s = _mm_cvtepi32_ps(Hsum4I32(sumi[0], sumi[1], sumi[2], sumi[3]));
      acc = _mm_fmadd_ps(s, d, acc);
      acc_min = _mm_fmadd_ps(mins[g], dmin, acc_min);
    }
  }
  _mm_storeu_ps(out, _mm_sub_ps(acc, acc_min));
}

// VecDotQ6KQ8KBatched for four tokens: per super-block, lane j of acc takes
// fma(d_y, isum * d_x, acc) for token j.
void VecDotQ6KQ8KBatchedX4(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ6K*>(x);
  const BlockQ8K* by[4];
  for (int j = 0; j < 4; ++j) by[j] = Row<BlockQ8K>(y, y_stride, j);
  __m128 acc = _mm_setzero_ps();
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const BlockQ8K* yi[4] = {by[0] + i, by[1] + i, by[2] + i, by[3] + i};
    __m256i sumi[4];
    x86::Q6KBlockSums<4, x86::Q6KMaddubsSums>(bx[i], yi, sumi);
    const __m128 isum = _mm_cvtepi32_ps(Hsum4I32(sumi[0], sumi[1], sumi[2], sumi[3]));
    const __m128 dy = _mm_setr_ps(by[0][i].d, by[1][i].d, by[2][i].d, by[3][i].d);
    acc = _mm_fmadd_ps(dy, _mm_mul_ps(isum, _mm_set1_ps(HalfToFloatF16c(bx[i].d))), acc);
  }
  _mm_storeu_ps(out, acc);
}

}  // namespace glint::kernels::avx2
