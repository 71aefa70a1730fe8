// AVX2 kernels for the 32-element block formats: Q8_0 / Q8_1 activation
// quantization and the Q4_0, Q4_1, Q8_0 dot products. Scalar twins in
// generic/quants_legacy.cc; the quantizers are bit-identical to them (same
// float operations, same round-half-even), the dot products equal up to the
// order of the float additions across blocks.
#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/simd.h"

namespace glint::kernels::avx2 {
namespace {

// max |x| over a 32-element block.
inline float BlockAmax(const float* x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
  m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8)));
  m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 16)));
  m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 24)));
  return HmaxF32(m);
}

}  // namespace

void QuantizeQ8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float amax = BlockAmax(src);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    b[i].d = static_cast<uint16_t>(_cvtss_sh(amax / 127.f, _MM_FROUND_TO_NEAREST_INT));
    const __m256i q = RoundPack32(src, _mm256_set1_ps(id), nullptr);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs), q);
  }
}

void QuantizeQ8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float amax = BlockAmax(src);
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    __m256i sums;
    const __m256i q = RoundPack32(src, _mm256_set1_ps(id), &sums);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs), q);
    b[i].d = static_cast<uint16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    b[i].s = static_cast<uint16_t>(
        _cvtss_sh(d * static_cast<float>(HsumI32(sums)), _MM_FROUND_TO_NEAREST_INT));
  }
}

float VecDotQ4_0Q8_0(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  const int64_t nb = n / kQK;
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i qx0 = _mm256_sub_epi8(UnpackNibbles32(bx[i].qs), eight);
    const __m256i qx1 = _mm256_sub_epi8(UnpackNibbles32(bx[i + 1].qs), eight);
    const __m256i qy0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256i qy1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i + 1].qs));
    const __m256 d0 = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    const __m256 d1 = _mm256_set1_ps(HalfToFloatF16c(bx[i + 1].d) * HalfToFloatF16c(by[i + 1].d));
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(DotI8I8(qx0, qy0)), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(DotI8I8(qx1, qy1)), acc1);
  }
  for (; i < nb; ++i) {
    const __m256i qx = _mm256_sub_epi8(UnpackNibbles32(bx[i].qs), eight);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8I8(qx, qy)), acc0);
  }
  return HsumF32(_mm256_add_ps(acc0, acc1));
}

float VecDotQ4_1Q8_1(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const auto* by = static_cast<const BlockQ8_1*>(y);
  const int64_t nb = n / kQK;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  float summs = 0;  // sum of m_x * s_y, the offset term
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i qx0 = UnpackNibbles32(bx[i].qs);
    const __m256i qx1 = UnpackNibbles32(bx[i + 1].qs);
    const __m256i qy0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256i qy1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i + 1].qs));
    const __m256 d0 = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    const __m256 d1 = _mm256_set1_ps(HalfToFloatF16c(bx[i + 1].d) * HalfToFloatF16c(by[i + 1].d));
    summs += HalfToFloatF16c(bx[i].m) * HalfToFloatF16c(by[i].s) +
             HalfToFloatF16c(bx[i + 1].m) * HalfToFloatF16c(by[i + 1].s);
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(DotU8I8(qx0, qy0)), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(DotU8I8(qx1, qy1)), acc1);
  }
  for (; i < nb; ++i) {
    const __m256i qx = UnpackNibbles32(bx[i].qs);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    summs += HalfToFloatF16c(bx[i].m) * HalfToFloatF16c(by[i].s);
    acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(qx, qy)), acc0);
  }
  return HsumF32(_mm256_add_ps(acc0, acc1)) + summs;
}

float VecDotQ8_0Q8_0(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  const int64_t nb = n / kQK;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i qx0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bx[i].qs));
    const __m256i qx1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bx[i + 1].qs));
    const __m256i qy0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256i qy1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i + 1].qs));
    const __m256 d0 = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    const __m256 d1 = _mm256_set1_ps(HalfToFloatF16c(bx[i + 1].d) * HalfToFloatF16c(by[i + 1].d));
    acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(DotI8I8(qx0, qy0)), acc0);
    acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(DotI8I8(qx1, qy1)), acc1);
  }
  for (; i < nb; ++i) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bx[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8I8(qx, qy)), acc0);
  }
  return HsumF32(_mm256_add_ps(acc0, acc1));
}

}  // namespace glint::kernels::avx2
