// Single-token dot products over eight weight rows repacked once, at load
// (TypeKernels::packed8_*): the decode path. Only included from files built
// with -mavx2 -mfma -mf16c (and more).
//
// A single-token dot product against one row spends more instructions on
// the block's two scales than on its 32 weights: each f16 scale is
// inserted into a vector and converted on its own, multiplied as a scalar
// and broadcast. With eight rows side by side, block i of all eight keeps
// its scales together, so one conversion and one multiply serve the eight
// rows, and the activation block is loaded once for them. Each row's float
// operations stay those of its single-token kernel (VecDotQ4_1Q8_1,
// VecDotQ8_0Q8_0), in its order: the same products dx * dy, the same fused
// multiply-adds into the same eight lanes, Q4_1's offset term as the same
// fused multiply-add chain (in lane r of one vector) and the same
// horizontal sum. So every output is bit-identical to that kernel;
// tests/kernels holds them to it. (The x86/vnni/ builds include this header
// with other flags; its helpers that are not templates over a per-build
// type are static, as in x86/q6k.h.)
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/aligned_buffer.h"
#include "kernels/blocks.h"
#include "kernels/x86/x8.h"  // HsumF32X8, Reduce8x8

namespace glint::kernels::x86 {

// A Dot functor returns the eight i32 sums, or the same sums already
// converted to float (exactly: they are far below 2^24).
static inline __m256 SumsAsFloat(__m256i sums) { return _mm256_cvtepi32_ps(sums); }
static inline __m256 SumsAsFloat(__m256 sums) { return sums; }

// Block i of eight Q4_1 rows: their scales, their offsets, then their
// nibbles row after row (the nibble order of BlockQ4_1). Eight BlockQ4_1
// in the bytes of eight.
struct BlockQ4_1x8 {
  uint16_t d[8];
  uint16_t m[8];
  uint8_t qs[8][kQK / 2];
};
static_assert(sizeof(BlockQ4_1x8) == 8 * sizeof(BlockQ4_1));

// Rows x, x + x_row_bytes, ..., x + 7 * x_row_bytes of n elements into
// n / 32 BlockQ4_1x8 at dst.
static inline void RepackQ4_1Packed8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  auto* out = static_cast<BlockQ4_1x8*>(dst);
  const auto* src = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n / kQK; ++i) {
    for (int r = 0; r < 8; ++r) {
      BlockQ4_1 b;
      std::memcpy(&b, src + r * x_row_bytes + i * sizeof(BlockQ4_1), sizeof b);
      out[i].d[r] = b.d;
      out[i].m[r] = b.m;
      std::memcpy(out[i].qs[r], b.qs, sizeof b.qs);
    }
  }
}

// Block i of eight Q8_0 rows: their scales, then their quants row after row.
struct BlockQ8_0x8 {
  uint16_t d[8];
  int8_t qs[8][kQK];
};
static_assert(sizeof(BlockQ8_0x8) == 8 * sizeof(BlockQ8_0));

static inline void RepackQ8_0Packed8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  auto* out = static_cast<BlockQ8_0x8*>(dst);
  const auto* src = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n / kQK; ++i) {
    for (int r = 0; r < 8; ++r) {
      BlockQ8_0 b;
      std::memcpy(&b, src + r * x_row_bytes + i * sizeof(BlockQ8_0), sizeof b);
      out[i].d[r] = b.d;
      std::memcpy(out[i].qs[r], b.qs, sizeof b.qs);
    }
  }
}

// out[r] = VecDotQ4_1Q8_1(n, row r, y) for the eight rows packed at xr.
// dot(qx, qy) returns the eight i32 sums of four u8 (qx) x s8 (qy)
// products each, as the single-token kernel forms them.
template <typename Dot>
inline void Q4_1Q8_1Packed8(int64_t n, const void* xr, const void* y, float* out, Dot dot) {
  const auto* bx = static_cast<const BlockQ4_1x8*>(xr);
  const auto* by = static_cast<const BlockQ8_1*>(y);
  const int64_t nb = n / kQK;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
         a7 = a0;
  __m256 summs = a0;  // lane r: row r's offset term
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ4_1x8& b = bx[i];
    const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.d)));
    const __m256 mx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.m)));
    const __m256 d = _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(by[i].d)));
    summs = _mm256_fmadd_ps(mx, _mm256_set1_ps(_cvtsh_ss(by[i].s)), summs);
    const __m256 d_lo = _mm256_permute2f128_ps(d, d, 0x00);  // rows 0..3 twice
    const __m256 d_hi = _mm256_permute2f128_ps(d, d, 0x11);  // rows 4..7 twice
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    // Rows 2k and 2k+1 in one load: [lo(2k) | lo(2k+1)] and [hi | hi]
    // regroup into each row's [lo | hi].
    auto rows = [&](int k, __m256i* even, __m256i* odd) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs[2 * k]));
      const __m256i lo = _mm256_and_si256(v, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      *even = _mm256_permute2x128_si256(lo, hi, 0x20);
      *odd = _mm256_permute2x128_si256(lo, hi, 0x31);
    };
    __m256i q0, q1;
    rows(0, &q0, &q1);
    a0 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0x00), _mm256_cvtepi32_ps(dot(q0, qy)), a0);
    a1 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0x55), _mm256_cvtepi32_ps(dot(q1, qy)), a1);
    rows(1, &q0, &q1);
    a2 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0xAA), _mm256_cvtepi32_ps(dot(q0, qy)), a2);
    a3 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0xFF), _mm256_cvtepi32_ps(dot(q1, qy)), a3);
    rows(2, &q0, &q1);
    a4 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0x00), _mm256_cvtepi32_ps(dot(q0, qy)), a4);
    a5 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0x55), _mm256_cvtepi32_ps(dot(q1, qy)), a5);
    rows(3, &q0, &q1);
    a6 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0xAA), _mm256_cvtepi32_ps(dot(q0, qy)), a6);
    a7 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0xFF), _mm256_cvtepi32_ps(dot(q1, qy)), a7);
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

// sums[k] = HsumF32X8(v[k]) for k < N, the same additions, eight
// accumulators at a time (Reduce8x8). At these row lengths one horizontal
// sum per output cost the kernels of several tokens as much as a tenth of
// their time.
template <int N>
static inline void HsumsF32X8(const __m256* v, float* sums) {
  int k = 0;
  for (; k + 8 <= N; k += 8) _mm256_storeu_ps(sums + k, Reduce8x8(v + k));
  if constexpr (N % 8 != 0) {
    __m256 rest[8];
    for (int j = 0; j < 8; ++j) rest[j] = k + j < N ? v[k + j] : _mm256_setzero_ps();
    alignas(32) float tail[8];
    _mm256_store_ps(tail, Reduce8x8(rest));
    for (int j = 0; k + j < N; ++j) sums[k + j] = tail[j];
  }
}

// Rows per pass of the many-token kernels below: their T x R accumulators
// and R unpacked rows stay in registers (16 of them with AVX2, 32 with
// AVX-512VL, where two rows per pass share each token's loads).
constexpr int Packed8XNRows(int tokens) {
#if defined(__AVX512VL__)
  return tokens == 1 ? 8 : tokens == 2 ? 4 : 2;
#else
  return tokens == 1 ? 8 : tokens == 2 ? 4 : tokens <= 4 ? 2 : 1;
#endif
}

// An aligned load whose value the R rows of a pass share: for R > 1 it is
// kept in a register, since GCC would otherwise fold the load into each
// row's instruction (loads, not arithmetic, bound these loops on Zen 4).
template <int R>
static inline __m256i LoadForRows(const void* p) {
  __m256i v = _mm256_load_si256(static_cast<const __m256i*>(p));
  if constexpr (R > 1) __asm__("" : "+v"(v));
  return v;
}

// The packed group at next (bytes long) into L1, where next is not nullptr,
// a few lines at each of a call's `steps` main-loop steps (a pass's block):
// the kernels of several tokens spread the next group's misses over their
// call this way, since a burst of them stalled on the L1 fill buffers. The
// lines are all asked for by three quarters of the way, so that the last
// of them arrive before the next call reads them. (In an unnamed namespace,
// as the static helpers: each build of its users keeps its own copy.)
namespace {
class GroupPrefetch {
 public:
  GroupPrefetch(const void* next, size_t bytes, int64_t steps)
      : at_(static_cast<const char*>(next)), end_(next == nullptr ? at_ : at_ + bytes) {
    const int64_t lines = static_cast<int64_t>((bytes + 63) / 64);
    const int64_t spread = std::max<int64_t>(1, steps * 3 / 4);
    per_step_ = static_cast<int>((lines + spread - 1) / spread);
  }
  void Step() {
    for (int k = 0; k < per_step_ && at_ < end_; ++k, at_ += 64) _mm_prefetch(at_, _MM_HINT_T0);
  }

 private:
  const char* at_;
  const char* end_;
  int per_step_ = 1;
};
}  // namespace

// out[t * out_stride + r] = VecDotQ4_1Q8_1(n, row r, token t) for the eight
// rows packed at xr and T tokens (2..8: one goes to Q4_1Q8_1Packed8) whose
// block quants are at y + t * y_stride, 32 aligned bytes per block, and
// whose block scales are given in float as the X8 kernels take them
// (VecDotX8Fn; see VecDotPacked8XNFn): verifying a
// draft, decoding several sequences, a prompt. Each row is unpacked once
// per block for all T tokens; the products d = dx * dy of every block and
// token are formed first, eight rows in one multiply, and each (row,
// token) multiply-add takes its d by a broadcast load, which leaves one
// integer dot, one conversion and one fused multiply-add per row, token
// and block. The rows go in passes of R with the T x R accumulators in
// registers. Per row and token the operations are Q4_1Q8_1Packed8's.
template <int T, typename Dot>
inline void Q4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                              size_t y_stride, const float* scales, size_t scales_stride,
                              float* out, size_t out_stride, Dot dot) {
  static_assert(T >= 1 && T <= 8);
  constexpr int R = Packed8XNRows(T);
  const auto* bx = static_cast<const BlockQ4_1x8*>(xr);
  const auto* y8 = static_cast<const uint8_t*>(y);
  const int64_t nb = n / kQK;
  // d[i][t][r] = dx(row r, block i) * dy(token t, block i); grows once per
  // thread to the longest row.
  // (64-byte aligned, as in avx512/packed8_xn.cc, where stores straddling
  // lines slowed the logits product by 5-7%.)
  thread_local AlignedBuffer<float> dbuf;
  if (dbuf.size() < static_cast<size_t>(nb) * T * 8 + 8) {
    dbuf.ResizeUninitialized(static_cast<size_t>(nb) * T * 8 + 8);
  }
  alignas(32) float sm[T][8];  // lane r: row r's offset term
  {
    __m256 summs[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) summs[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const __m256 dx =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].d)));
      const __m256 mx =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].m)));
      const float* dy = scales + 2 * i * scales_stride;
      float* di = dbuf.data() + i * T * 8;
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        _mm256_storeu_ps(di + t * 8, _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + t)));
        summs[t] = _mm256_fmadd_ps(mx, _mm256_broadcast_ss(dy + scales_stride + t), summs[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) _mm256_store_ps(sm[t], summs[t]);
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i shifts = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);
  GroupPrefetch prefetch(next, nb * sizeof(BlockQ4_1x8), nb * (8 / R));
  for (int r0 = 0; r0 < 8; r0 += R) {
    __m256 acc[T][R];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[t][r] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < nb; ++i) {
      prefetch.Step();
      __m256i q[R];  // [low nibbles | high nibbles] of each row
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        // The 16 bytes in both halves, the upper half shifted by a nibble.
        const __m256i v = _mm256_broadcastsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].qs[r0 + r])));
        q[r] = _mm256_and_si256(_mm256_srlv_epi32(v, shifts), low4);
      }
      const float* di = dbuf.data() + i * T * 8 + r0;
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const __m256i qy = LoadForRows<R>(y8 + t * y_stride + i * kQK);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          acc[t][r] = _mm256_fmadd_ps(_mm256_broadcast_ss(di + t * 8 + r),
                                      SumsAsFloat(dot(q[r], qy)), acc[t][r]);
        }
      }
    }
    alignas(32) float sums[T * R];
    HsumsF32X8<T * R>(&acc[0][0], sums);
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < R; ++r) out[t * out_stride + r0 + r] = sums[t * R + r] + sm[t][r0 + r];
    }
  }
}

// How Q8_0Q8_0Packed8XN forms the eight i32 sums of a Q8_0 row's block
// quants w with a token's y (as floats, SumsAsFloat): the sign trick of the
// single-token kernel, |w| as u8 times y with w's sign, through dot.
template <typename Dot>
struct Q8_0SignTrick {
  Dot dot;
  struct Row {
    __m256i w, abs_w;
  };
  struct Token {
    __m256i y;
  };
  Row LoadRow(const int8_t* qs) const {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    return {w, _mm256_sign_epi8(w, w)};
  }
  // A token's quants of a block at y, shared by R rows.
  template <int R>
  Token LoadToken(const uint8_t* y) const {
    return {LoadForRows<R>(y)};
  }
  __m256 Sums(const Row& row, const Token& token) const {
    return SumsAsFloat(dot(row.abs_w, _mm256_sign_epi8(token.y, row.w)));
  }
};

// Q4_1Q8_1Packed8XN for Q8_0 rows (Q8_0Q8_0Packed8's operations per row and
// token; the integer sums by Sums, a Q8_0SignTrick or another way to the
// same sums): the output matrix of a draft's or a batch's logits.
template <int T, typename Sums>
inline void Q8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                              size_t y_stride, const float* scales, size_t scales_stride,
                              float* out, size_t out_stride, Sums sums) {
  static_assert(T >= 1 && T <= 8);
  constexpr int R = Packed8XNRows(T);
  const auto* bx = static_cast<const BlockQ8_0x8*>(xr);
  const auto* y8 = static_cast<const uint8_t*>(y);
  const int64_t nb = n / kQK;
  // (64-byte aligned, as in avx512/packed8_xn.cc, where stores straddling
  // lines slowed the logits product by 5-7%.)
  thread_local AlignedBuffer<float> dbuf;
  if (dbuf.size() < static_cast<size_t>(nb) * T * 8 + 8) {
    dbuf.ResizeUninitialized(static_cast<size_t>(nb) * T * 8 + 8);
  }
  for (int64_t i = 0; i < nb; ++i) {
    const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].d)));
    const float* dy = scales + 2 * i * scales_stride;
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      _mm256_storeu_ps(dbuf.data() + (i * T + t) * 8, _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + t)));
    }
  }
  GroupPrefetch prefetch(next, nb * sizeof(BlockQ8_0x8), nb * (8 / R));
  for (int r0 = 0; r0 < 8; r0 += R) {
    __m256 acc[T][R];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[t][r] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < nb; ++i) {
      prefetch.Step();
      typename Sums::Row w[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) w[r] = sums.LoadRow(bx[i].qs[r0 + r]);
      const float* di = dbuf.data() + i * T * 8 + r0;
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const auto token = sums.template LoadToken<R>(y8 + t * y_stride + i * kQK);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          acc[t][r] = _mm256_fmadd_ps(_mm256_broadcast_ss(di + t * 8 + r), sums.Sums(w[r], token),
                                      acc[t][r]);
        }
      }
    }
    alignas(32) float sums[T * R];
    HsumsF32X8<T * R>(&acc[0][0], sums);
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < R; ++r) out[t * out_stride + r0 + r] = sums[t * R + r];
    }
  }
}

// out[r] = VecDotQ8_0Q8_0(n, row r, y) for the eight rows packed at xr;
// dot as above, given |x| and y with x's sign (the sign trick).
template <typename Dot>
inline void Q8_0Q8_0Packed8(int64_t n, const void* xr, const void* y, float* out, Dot dot) {
  const auto* bx = static_cast<const BlockQ8_0x8*>(xr);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  const int64_t nb = n / kQK;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
         a7 = a0;
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_0x8& b = bx[i];
    const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.d)));
    const __m256 d = _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(by[i].d)));
    const __m256 d_lo = _mm256_permute2f128_ps(d, d, 0x00);
    const __m256 d_hi = _mm256_permute2f128_ps(d, d, 0x11);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    auto row = [&](int r) {
      const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs[r]));
      return _mm256_cvtepi32_ps(dot(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qy, qx)));
    };
    a0 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0x00), row(0), a0);
    a1 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0x55), row(1), a1);
    a2 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0xAA), row(2), a2);
    a3 = _mm256_fmadd_ps(_mm256_permute_ps(d_lo, 0xFF), row(3), a3);
    a4 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0x00), row(4), a4);
    a5 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0x55), row(5), a5);
    a6 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0xAA), row(6), a6);
    a7 = _mm256_fmadd_ps(_mm256_permute_ps(d_hi, 0xFF), row(7), a7);
  }
  out[0] = HsumF32X8(a0);
  out[1] = HsumF32X8(a1);
  out[2] = HsumF32X8(a2);
  out[3] = HsumF32X8(a3);
  out[4] = HsumF32X8(a4);
  out[5] = HsumF32X8(a5);
  out[6] = HsumF32X8(a6);
  out[7] = HsumF32X8(a7);
}

}  // namespace glint::kernels::x86
