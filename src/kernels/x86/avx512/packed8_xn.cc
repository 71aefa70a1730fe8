// The many-token packed Q4_1 and Q8_0 kernels (TypeKernels::packed8_dot_xn;
// see x86/packed8.h's Q4_1Q8_1Packed8XN) on 512-bit vectors, two tokens per
// vector, for four, six or eight tokens: sequences decoded together, Q4_1
// prompts. Built with -mavx512f -mavx512bw -mavx512vl -mavx512vnni
// -mavx512vbmi, called only where the CPU has them (Avx512VbmiKernels).
//
// Per row, token and block the 256-bit kernel issues three vector
// operations (vpdpbusd, the subtraction that makes its sums floats, the
// fused multiply-add), and those bound it: on a Sapphire Rapids VM it
// measured 2.2 G of them a second per core against 3.4 G in a loop of
// nothing else. A 512-bit operation serves two tokens, and the same three
// per pair ran at 4.5 G rows x tokens x blocks a second in that loop.
// Measured (BM_Packed8XN, eight tokens, against the AVX512-VNNI table's
// 256-bit kernels): Q4_1 69-76 -> 82-89 G multiply-adds a second, Q8_0
// 66-68 -> 83; 8 fast sequences 735 -> 815 tok/s. Two and three tokens
// stay with the 256-bit kernels (faster there: a pair's shuffles serve
// fewer products), as do five and seven (even).
//
// The two tokens alternate by 32-bit lane: lane 2q holds one of the eight
// lanes of the 256-bit kernel (the sum of four products) for the first
// token, lane 2q + 1 the same lane for the second, so that the pair's two
// scale products are one 64-bit broadcast load, and each row's 32 weights
// appear twice. Which of the eight lanes sits in qword q is kLaneOf[q],
// chosen so that one vpmultishiftqb (a shift per byte within each qword)
// unpacks a Q4_1 row's nibbles from a plain 128-bit broadcast of them:
// lanes 0..3 are low nibbles, lanes 4..7 high nibbles, and a lane's four
// bytes lie in the first eight packed bytes for lanes 0, 1, 4, 5 and in
// the last eight for the rest, which alternate by qword in the broadcast.
// (A Q8_0 row's bytes take one vpermd.)
//
// Per lane and token the operations are those of the 256-bit kernels, in
// their order (the same products d = dx * dy, the same integer sums made
// floats the same way, the same fused multiply-adds, the same horizontal
// sum of the same eight lanes and the same offset term), so every output
// is bit-identical to vec_dot; tests/kernels holds them to it.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "base/aligned_buffer.h"
#include "kernels/internal.h"
#include "kernels/x86/packed8.h"

#if !defined(__AVX512VBMI__) || !defined(__AVX512VNNI__) || !defined(__AVX512BW__)
#error "x86/avx512/ needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mavx512vbmi"
#endif

namespace glint::kernels::avx512vbmi {
namespace {

// The 256-bit kernel's lane in qword q (an involution: also the qword of
// each lane).
constexpr int kLaneOf[8] = {0, 2, 1, 3, 4, 6, 5, 7};

// The index tables below are built once, at compile time: the kernels
// load each with one instruction per call.
struct alignas(64) Bytes64 {
  uint8_t v[64];
};
struct alignas(64) Ints16 {
  int32_t v[16];
};
// vpmultishiftqb's control: byte j of qword q takes the eight bits from bit
// `shift` of the broadcast qword q (weights of lane k: bytes 4k % 8 ..
// 4k % 8 + 3 of the packed half, low nibbles for k < 4, high ones from 4),
// bytes 4..7 repeating bytes 0..3 for the second token.
constexpr Bytes64 kNibbleShifts = [] {
  Bytes64 c{};
  for (int q = 0; q < 8; ++q) {
    const int k = kLaneOf[q];
    const int base = 32 * ((k % 4) % 2) + (k >= 4 ? 4 : 0);
    for (int j = 0; j < 8; ++j) c.v[8 * q + j] = static_cast<uint8_t>(base + 8 * (j % 4));
  }
  return c;
}();
// vpermt2d's indices that interleave two tokens' quants by lane (the
// first token's lane kLaneOf[q] to 2q, the second's to 2q + 1).
constexpr Ints16 kPairLanes = [] {
  Ints16 c{};
  for (int q = 0; q < 8; ++q) {
    c.v[2 * q] = kLaneOf[q];
    c.v[2 * q + 1] = 16 + kLaneOf[q];
  }
  return c;
}();
// vpermd's indices that repeat a Q8_0 row's lane kLaneOf[q] at 2q, 2q + 1.
constexpr Ints16 kRowLanes = [] {
  Ints16 c{};
  for (int q = 0; q < 8; ++q) c.v[2 * q] = c.v[2 * q + 1] = kLaneOf[q];
  return c;
}();

// The horizontal sums of four rows' accumulators a0..a3 (two tokens each,
// by lane as above), in HsumF32X8's order for each row and token: s_k =
// lane k + lane k + 4 of the 256-bit kernel's eight, then (s_0 + s_2) +
// (s_1 + s_3); the same additions of the same values, eight outputs at a
// time instead of one. out[j]: token j's four sums, rows in order.
inline void ReduceRows4(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m128 out[2]) {
  // Lane k + 4 sits eight lanes above lane k (kLaneOf maps k + 4 to qword
  // kLaneOf[k] + 4): adding the 256-bit halves gives each row's s, as
  // [s0 s0' s2 s2' | s1 s1' s3 s3'] (' the second token). Rows 0 and 2 in
  // one vector, 1 and 3 in the other.
  const __m512 z02 = _mm512_add_ps(_mm512_shuffle_f32x4(a0, a2, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(a0, a2, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 z13 = _mm512_add_ps(_mm512_shuffle_f32x4(a1, a3, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(a1, a3, _MM_SHUFFLE(3, 2, 3, 2)));
  // s0 + s2 and s1 + s3: per 128-bit lane, [row a: both tokens, row b:
  // both tokens], lanes [v of rows 0, 1 | w of rows 0, 1 | v of 2, 3 | w of 2, 3].
  const __m512 w = _mm512_add_ps(_mm512_shuffle_ps(z02, z13, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(z02, z13, _MM_SHUFFLE(3, 2, 3, 2)));
  // (s0 + s2) + (s1 + s3): [rows 0, 1 | rows 2, 3 | ...], tokens alternating.
  const __m512 f = _mm512_add_ps(_mm512_shuffle_f32x4(w, w, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_f32x4(w, w, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 by_token =
      _mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7, 0, 0, 0, 0, 0, 0, 0, 0), f);
  out[0] = _mm512_castps512_ps128(by_token);
  out[1] = _mm512_extractf32x4_ps(by_token, 1);
}

// 12582912 = 1.5 * 2^23, the bias of the integer sums (see
// avx512vnni::DpbusdAsFloat).
constexpr int32_t kFloatBias = 0x4B400000;

// A Q4_1 row's block, unpacked into both tokens' lanes: its weights as u8,
// the sums' start the bias alone. With the offset term (m * s per block).
struct Q4_1Rows {
  using Block = x86::BlockQ4_1x8;
  static constexpr bool kOffsets = true;
  static constexpr int kRows(int pairs) { return pairs <= 2 ? 8 : 4; }
  __m512i shifts = _mm512_load_si512(kNibbleShifts.v);
  __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i bias = _mm512_set1_epi32(kFloatBias);
  struct Row {
    __m512i w;
  };
  Row Load(const Block& b, int r) const {
    const __m512i v =
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs[r])));
    return {_mm512_and_si512(_mm512_multishift_epi64_epi8(shifts, v), low4)};
  }
  // The pair's integer sums with the bias; a: the pair's quants (s8).
  __m512i Sums(const Row& row, __m512i a) const { return _mm512_dpbusd_epi32(bias, row.w, a); }
};

// A Q8_0 row's block (s8 weights) against the tokens' quants offset to u8
// (y + 128, TypeKernels::packed8_xn_unsigned_quants), as avx512vnni's
// Q8_0Offset: the start of the sums holds the bias and -128 times each
// lane's four weights.
struct Q8_0Rows {
  using Block = x86::BlockQ8_0x8;
  static constexpr bool kOffsets = false;
  static constexpr int kRows(int) { return 4; }  // each row keeps two registers
  __m512i dup = _mm512_load_si512(kRowLanes.v);
  __m512i ones = _mm512_set1_epi8(1);
  __m512i bias = _mm512_set1_epi32(kFloatBias);
  struct Row {
    __m512i w, start;
  };
  Row Load(const Block& b, int r) const {
    const __m512i w = _mm512_permutexvar_epi32(
        dup, _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs[r]))));
    const __m512i sum_w = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, w);
    return {w, _mm512_sub_epi32(bias, _mm512_slli_epi32(sum_w, 7))};
  }
  __m512i Sums(const Row& row, __m512i a) const { return _mm512_dpbusd_epi32(row.start, a, row.w); }
};

template <int T, typename Rows>
void PairsOfTokens(int64_t n, const void* xr, const void* next, const void* y, size_t y_stride,
                   const float* scales, size_t scales_stride, float* out, size_t out_stride) {
  static_assert(T % 2 == 0 && T >= 4 && T <= 8);
  constexpr int P = T / 2;  // token pairs
  constexpr int R = Rows::kRows(P);  // rows per pass: P x R accumulators in registers
  using Block = typename Rows::Block;
  const Rows rows;
  const auto* bx = static_cast<const Block*>(xr);
  const auto* y8 = static_cast<const uint8_t*>(y);
  const int64_t nb = n / kQK;

  // d[i][r][t] = dx(row r, block i) * dy(token t, block i); the tokens'
  // quants interleaved by pairs, act[i][p] (64 bytes). Both grow once per
  // thread to the longest row.
  // (64-byte aligned: with d's stores straddling lines, the logits product
  // of 8 sequences ran 5-7% slower.)
  thread_local AlignedBuffer<float> dbuf;
  thread_local AlignedBuffer<uint8_t> act_bytes;
  if (dbuf.size() < static_cast<size_t>(nb) * 64) {
    dbuf.ResizeUninitialized(static_cast<size_t>(nb) * 64);
  }
  if (act_bytes.size() < static_cast<size_t>(nb) * P * 64) {
    act_bytes.ResizeUninitialized(static_cast<size_t>(nb) * P * 64);
  }
  uint8_t* const act = act_bytes.data();
  alignas(32) float sm[8][8];  // sm[t][r]: row r's offset term for token t (Q4_1)
  {
    const __m512i pair_lanes = _mm512_load_si512(kPairLanes.v);
    const __mmask8 tokens = static_cast<__mmask8>((1u << T) - 1);
    __m256 summs[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) summs[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].d)));
      const float* dy = scales + 2 * i * scales_stride;
      const __m256 dys = _mm256_maskz_loadu_ps(tokens, dy);
      alignas(32) float dxs[8];
      _mm256_store_ps(dxs, dx);
      float* di = dbuf.data() + i * 64;
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) {
        _mm256_storeu_ps(di + 8 * r, _mm256_mul_ps(_mm256_broadcast_ss(dxs + r), dys));
      }
      if constexpr (Rows::kOffsets) {
        const __m256 mx =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].m)));
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          summs[t] = _mm256_fmadd_ps(mx, _mm256_broadcast_ss(dy + scales_stride + t), summs[t]);
        }
      }
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        const __m512i a = _mm512_castsi256_si512(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y8 + 2 * p * y_stride + i * kQK)));
        const __m512i b = _mm512_castsi256_si512(_mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(y8 + (2 * p + 1) * y_stride + i * kQK)));
        _mm512_store_si512(act + (i * P + p) * 64, _mm512_permutex2var_epi32(a, pair_lanes, b));
      }
    }
    if constexpr (Rows::kOffsets) {
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) _mm256_store_ps(sm[t], summs[t]);
    }
  }

  const __m512 unbias = _mm512_set1_ps(12582912.0f);
  x86::GroupPrefetch prefetch(next, nb * sizeof(Block), nb * (8 / R));
  for (int r0 = 0; r0 < 8; r0 += R) {
    __m512 acc[P][R];
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[p][r] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < nb; ++i) {
      prefetch.Step();
      typename Rows::Row w[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) w[r] = rows.Load(bx[i], r0 + r);
      const float* di = dbuf.data() + i * 64 + r0 * 8;
#pragma GCC unroll 4
      for (int p = 0; p < P; ++p) {
        const __m512i a = _mm512_load_si512(act + (i * P + p) * 64);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m512 f = _mm512_sub_ps(_mm512_castsi512_ps(rows.Sums(w[r], a)), unbias);
          double d2;  // the pair's two products, one 64-bit broadcast
          __builtin_memcpy(&d2, di + 8 * r + 2 * p, sizeof d2);
          acc[p][r] = _mm512_fmadd_ps(_mm512_castpd_ps(_mm512_set1_pd(d2)), f, acc[p][r]);
        }
      }
    }
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
#pragma GCC unroll 2
      for (int r = 0; r < R; r += 4) {
        __m128 sums[2];
        ReduceRows4(acc[p][r], acc[p][r + 1], acc[p][r + 2], acc[p][r + 3], sums);
#pragma GCC unroll 2
        for (int j = 0; j < 2; ++j) {
          __m128 v = sums[j];
          if constexpr (Rows::kOffsets) v = _mm_add_ps(v, _mm_load_ps(&sm[2 * p + j][r0 + r]));
          _mm_storeu_ps(out + (2 * p + j) * out_stride + r0 + r, v);
        }
      }
    }
  }
}

}  // namespace

namespace {
// Four, six or eight tokens in pairs; two, three, five or seven through
// `narrow`, the 256-bit kernel, which measured as fast or faster there
// (BM_Packed8XN; an odd count would leave half a pair).
template <typename Rows>
void PairsOr(VecDotPacked8XNFn narrow, int64_t n, const void* xr, const void* next, const void* y,
             size_t y_stride, const float* scales, size_t scales_stride, int n_tokens, float* out,
             size_t out_stride) {
  switch (n_tokens) {
    case 4:
      return PairsOfTokens<4, Rows>(n, xr, next, y, y_stride, scales, scales_stride, out,
                                    out_stride);
    case 6:
      return PairsOfTokens<6, Rows>(n, xr, next, y, y_stride, scales, scales_stride, out,
                                    out_stride);
    case 8:
      return PairsOfTokens<8, Rows>(n, xr, next, y, y_stride, scales, scales_stride, out,
                                    out_stride);
    default:
      return narrow(n, xr, next, y, y_stride, scales, scales_stride, n_tokens, out, out_stride);
  }
}
}  // namespace

void VecDotQ4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride) {
  PairsOr<Q4_1Rows>(avx512vnni::VecDotQ4_1Q8_1Packed8XN, n, xr, next, y, y_stride, scales,
                    scales_stride, n_tokens, out, out_stride);
}

void VecDotQ8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride) {
  PairsOr<Q8_0Rows>(avx512vnni::VecDotQ8_0Q8_0Packed8XN, n, xr, next, y, y_stride, scales,
                    scales_stride, n_tokens, out, out_stride);
}

}  // namespace glint::kernels::avx512vbmi
