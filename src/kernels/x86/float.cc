// AVX2 + F16C kernels for the plain types F32 and F16. The F16 conversions are
// exact twins of the scalar ones (F16C rounds to nearest even); the dot
// products accumulate in f32 vectors, as the reference engine's SIMD
// ggml_vec_dot_f16 / ggml_vec_dot_f32 do, where the scalar twins use double.
#include "kernels/internal.h"
#include "kernels/x86/simd.h"

namespace glint::kernels::avx2 {
namespace {

inline __m256 LoadHalf8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

}  // namespace

void DequantizeF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, LoadHalf8(h + i));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(h[i]);
}

void QuantizeF16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), v);
  }
  for (; i < n; ++i) h[i] = static_cast<uint16_t>(_cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT));
}

float VecDotF32(int64_t n, const void* x, const void* y) {
  return DotF32(static_cast<const float*>(x), static_cast<const float*>(y), n);
}

float VecDotF16(int64_t n, const void* x, const void* y) {
  const auto* a = static_cast<const uint16_t*>(x);
  const auto* b = static_cast<const uint16_t*>(y);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(LoadHalf8(a + i), LoadHalf8(b + i), acc0);
    acc1 = _mm256_fmadd_ps(LoadHalf8(a + i + 8), LoadHalf8(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(LoadHalf8(a + i + 16), LoadHalf8(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(LoadHalf8(a + i + 24), LoadHalf8(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(LoadHalf8(a + i), LoadHalf8(b + i), acc0);
  float sum = HsumF32(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += _cvtsh_ss(a[i]) * _cvtsh_ss(b[i]);
  return sum;
}

}  // namespace glint::kernels::avx2
