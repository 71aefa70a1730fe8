// Element-wise operations on 512-bit vectors where they pay: SwiGLU, whose
// exponential is the reference engine's AVX-512 one (generic's ExpRef), so
// here it takes vscalefps itself where the 256-bit version (x86/ops.cc)
// emulates its single rounding in eight more operations. Per lane the same
// operations, so the results are bit-identical to generic's.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/internal.h"

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

}  // namespace glint::kernels::avx512vbmi
