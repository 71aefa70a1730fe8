// AVX2 + FMA versions of the row operations (ops.h); scalar twins in
// generic/ops.cc. rms_norm, softmax and swiglu follow the reference engine
// (llama.cpp as built for this AVX-512 machine) operation for operation, so
// both versions and the reference agree bit for bit.
#include <cmath>

#include "kernels/internal.h"
#include "kernels/x86/simd.h"

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
