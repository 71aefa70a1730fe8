// AVX2 kernels for the 32-element block formats: Q8_0 / Q8_1 activation
// quantization and the Q4_0, Q4_1, Q8_0 dot products. Scalar twins in
// generic/quants_legacy.cc; the quantizers are bit-identical to them (same
// float operations, same round-half-even), and so are the dot products: both
// follow the reference engine's AVX2 kernels (one accumulator of 8 f32 lanes
// in block order, reduced 4+4, 2+2, 1+1; Q4_1's offset term by one fused
// multiply-add per block).
#include <cmath>
#include <type_traits>

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

namespace {
// The quantizer's blocks at dst, then each block's split entries (see
// QuantizeSplitFn) from what it wrote, while the block is in L1.
template <typename Block>
void SplitBlocksOf(const void* dst, int64_t n, float* scales, size_t scales_stride, int8_t* quants,
                   bool flip) {
  const auto* b = static_cast<const Block*>(dst);
  const __m256i offset = _mm256_set1_epi8(flip ? static_cast<char>(0x80) : 0);
  for (int64_t i = 0; i < n / kQK; ++i) {
    scales[2 * i * scales_stride] = HalfToFloatF16c(b[i].d);
    if constexpr (std::is_same_v<Block, BlockQ8_1>) {
      scales[(2 * i + 1) * scales_stride] = HalfToFloatF16c(b[i].s);
    } else {
      scales[(2 * i + 1) * scales_stride] = 0.0f;
    }
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    _mm256_store_si256(reinterpret_cast<__m256i*>(quants + kQK * i), _mm256_xor_si256(q, offset));
  }
}
}  // namespace

void QuantizeQ8_0Split(const float* src, void* dst, int64_t n, float* scales,
                       size_t scales_stride, int8_t* quants, bool flip) {
  QuantizeQ8_0(src, dst, n);
  SplitBlocksOf<BlockQ8_0>(dst, n, scales, scales_stride, quants, flip);
}

void QuantizeQ8_1Split(const float* src, void* dst, int64_t n, float* scales,
                       size_t scales_stride, int8_t* quants, bool flip) {
  QuantizeQ8_1(src, dst, n);
  SplitBlocksOf<BlockQ8_1>(dst, n, scales, scales_stride, quants, flip);
}

float VecDotQ4_0Q8_0(int64_t n, const void* x, const void* y) {
  // One accumulator in block order, as the reference's AVX2 kernel.
  const auto* bx = static_cast<const BlockQ4_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  const int64_t nb = n / kQK;
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = _mm256_sub_epi8(UnpackNibbles32(bx[i].qs), eight);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8I8(qx, qy)), acc);
  }
  return HsumF32(acc);
}

float VecDotQ4_1Q8_1(int64_t n, const void* x, const void* y) {
  // One accumulator in block order and the offset term summed by a fused
  // multiply-add per block, as the reference's AVX2 kernel (GCC contracts its
  // `summs += m * s`); the result is hsum(acc) + summs.
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const auto* by = static_cast<const BlockQ8_1*>(y);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;  // sum of m_x * s_y, the offset term
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = UnpackNibbles32(bx[i].qs);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    summs = std::fma(HalfToFloatF16c(bx[i].m), HalfToFloatF16c(by[i].s), summs);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotU8I8(qx, qy)), acc);
  }
  return HsumF32(acc) + summs;
}

float VecDotQ8_0Q8_0(int64_t n, const void* x, const void* y) {
  // One accumulator in block order, as the reference's AVX2 kernel.
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bx[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(by[i].qs));
    const __m256 d = _mm256_set1_ps(HalfToFloatF16c(bx[i].d) * HalfToFloatF16c(by[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8I8(qx, qy)), acc);
  }
  return HsumF32(acc);
}

}  // namespace glint::kernels::avx2
