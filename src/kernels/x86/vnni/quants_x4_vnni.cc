// The four-token Q4_1 dot product of quants_x4.cc with AVX-VNNI: vpdpbusd
// forms the block's eight i32 sums of four u8 x s8 products in one
// instruction where AVX2 needs maddubs and madd. The sums are exact either
// way (maddubs cannot saturate on 4-bit x 8-bit values), so every output
// performs the same float operations as VecDotQ4_1Q8_1, bit for bit.
// Built twice (vnni.h); only called when the CPU has VNNI.
#include <immintrin.h>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/q6k.h"
#include "kernels/x86/vnni/vnni.h"
#include "kernels/x86/x8.h"

namespace glint::kernels::GLINT_VNNI_NAMESPACE {
namespace {

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

inline float HsumF32(__m256 v) {  // as avx2::HsumF32: 4+4, 2+2, 1+1
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// avx2::VecDotQ4_1Q8_1X8 with vpdpbusd (eight tokens: x86/x8.h).
template <int T>
void Q4_1Q8_1XN(int64_t n, const void* x, const void* y, size_t y_stride, const float* scales,
                size_t scales_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const BlockQ8_1* by[T];
  for (int j = 0; j < T; ++j) {
    by[j] = reinterpret_cast<const BlockQ8_1*>(static_cast<const uint8_t*>(y) + j * y_stride);
  }
  const int64_t nb = n / kQK;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[T];
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  __m256 summs = _mm256_setzero_ps();  // lane j: token j's offset term
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].qs));
    const __m256i qx =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low4);
    const __m256 dx = _mm256_set1_ps(_cvtsh_ss(bx[i].d));
    const float* dy = scales + 2 * i * scales_stride;
    summs = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(bx[i].m)),
                            _mm256_loadu_ps(dy + scales_stride), summs);
    for (int j = 0; j < T; ++j) {
      const __m256 d = _mm256_mul_ps(dx, _mm256_broadcast_ss(dy + j));
      const __m256i sum =
          GLINT_DPBUSD(_mm256_setzero_si256(), qx, Load256(by[j][i].qs));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[j]);
    }
  }
  alignas(32) float sm[8];
  _mm256_store_ps(sm, summs);
  for (int j = 0; j < T; ++j) out[j] = HsumF32(acc[j]) + sm[j];
}

template <>
void Q4_1Q8_1XN<8>(int64_t n, const void* x, const void* y, size_t y_stride, const float* scales,
                   size_t scales_stride, float* out) {
  x86::Q4_1Q8_1X8(n, x, y, y_stride, scales, scales_stride, out, [](__m256i qx, const uint8_t* row) {
    return GLINT_DPBUSD(_mm256_setzero_si256(), qx, Load256(row));
  });
}

// Q6KBlockSums with VNNI: per 32 weights and token, vpdpbusd forms the
// eight i32 sums of four u6 x s8 products (maddubs and its i16 pairs in
// AVX2) and vpdpwssd scales them into the block's sums (madd and an add):
// each sum is below 2^15 in magnitude (4 * 63 * 128), so as the low i16 of
// its lane against the pair (scale, 0) it is multiplied whole. The same
// exact integers in the same lanes.
struct Q6KDpbusdSums {
  static __m256i Scale(__m256i s) { return _mm256_and_si256(s, _mm256_set1_epi32(0xFFFF)); }
  static __m256i Add(__m256i sumi, __m256i q, const int8_t* y, __m256i scale) {
    return GLINT_DPWSSD(sumi, GLINT_DPBUSD(_mm256_setzero_si256(), q, Load256(y)), scale);
  }
};

template <int T>
void Q6KQ8KXN(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  x86::Q6KQ8KXN<T, Q6KDpbusdSums>(n, x, y, y_stride, out);
}

}  // namespace

void VecDotQ6KQ8KX8(int64_t n, const void* x, const void* y, size_t y_stride, const float*,
                    size_t, int n_tokens, float* out) {
  GLINT_DISPATCH_XN(Q6KQ8KXN, n_tokens, n, x, y, y_stride, out);
}

void VecDotQ4_1Q8_1X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const BlockQ8_1* by[4];
  for (int j = 0; j < 4; ++j) {
    by[j] = reinterpret_cast<const BlockQ8_1*>(static_cast<const uint8_t*>(y) + j * y_stride);
  }
  const int64_t nb = n / kQK;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  __m128 summs = _mm_setzero_ps();  // lane j: token j's offset term
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bx[i].qs));
    const __m256i qx =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low4);
    const float dx = _cvtsh_ss(bx[i].d);
    const __m128 s = _mm_setr_ps(_cvtsh_ss(by[0][i].s), _cvtsh_ss(by[1][i].s),
                                 _cvtsh_ss(by[2][i].s), _cvtsh_ss(by[3][i].s));
    summs = _mm_fmadd_ps(_mm_set1_ps(_cvtsh_ss(bx[i].m)), s, summs);
    for (int j = 0; j < 4; ++j) {
      const __m256 d = _mm256_set1_ps(dx * _cvtsh_ss(by[j][i].d));
      const __m256i sum =
          GLINT_DPBUSD(_mm256_setzero_si256(), qx, Load256(by[j][i].qs));
      acc[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[j]);
    }
  }
  alignas(16) float sm[4];
  _mm_store_ps(sm, summs);
  for (int j = 0; j < 4; ++j) out[j] = HsumF32(acc[j]) + sm[j];
}

void VecDotQ4_1Q8_1X8(int64_t n, const void* x, const void* y, size_t y_stride,
                      const float* scales, size_t scales_stride, int n_tokens, float* out) {
  GLINT_DISPATCH_XN(Q4_1Q8_1XN, n_tokens, n, x, y, y_stride, scales, scales_stride, out);
}

}  // namespace glint::kernels::GLINT_VNNI_NAMESPACE
