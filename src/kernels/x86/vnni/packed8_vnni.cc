// x86/packed8.cc with vpdpbusd for the integer sums (exact either way, so
// bit-identical to it). Built twice (vnni.h); only called when the CPU has VNNI.
#include "kernels/x86/packed8.h"

#include "kernels/internal.h"
#include "kernels/x86/vnni/vnni.h"

namespace glint::kernels::GLINT_VNNI_NAMESPACE {

void VecDotQ4_1Q8_1Packed8(int64_t n, const void* xr, const void* y, float* out) {
  x86::Q4_1Q8_1Packed8(n, xr, y, out, [](__m256i qx, __m256i qy) {
    return GLINT_DPBUSD(_mm256_setzero_si256(), qx, qy);
  });
}

namespace {
template <int T>
void Q4_1Packed8Tokens(int64_t n, const void* xr, const void* next, const void* y, size_t y_stride,
                       const float* scales, size_t scales_stride, float* out,
                       size_t out_stride) {
  x86::Q4_1Q8_1Packed8XN<T>(n, xr, next, y, y_stride, scales, scales_stride, out, out_stride,
                            [](__m256i qx, __m256i qy) { return DpbusdAsFloat(qx, qy); });
}
}  // namespace

void VecDotQ4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride) {
  GLINT_DISPATCH_XN(Q4_1Packed8Tokens, n_tokens, n, xr, next, y, y_stride, scales, scales_stride,
                    out, out_stride);
}

// (|x| <= 128 and y in [-128, 127]: maddubs never saturates a pair sum,
// so vpdpbusd's exact sums are the AVX2 kernel's.)
void VecDotQ8_0Q8_0Packed8(int64_t n, const void* xr, const void* y, float* out) {
  x86::Q8_0Q8_0Packed8(n, xr, y, out, [](__m256i ax, __m256i sy) {
    return GLINT_DPBUSD(_mm256_setzero_si256(), ax, sy);
  });
}

namespace {
// The sums of Q8_0Q8_0Packed8XN without the sign trick: vpdpbusd of the
// activations offset to unsigned, y + 128 (the quants plane holds them so,
// TypeKernels::packed8_xn_unsigned_quants), with the weights w gives
// sum (y + 128) w, and the correction -128 sum w of each lane's four w,
// formed once per row and block for all the tokens, is the sums' start
// value, with DpbusdAsFloat's bias. The sums are the same integers; per
// row, token and block this leaves one vpdpbusd, one subtraction and the
// multiply-add.
struct Q8_0Offset {
  struct Row {
    __m256i w, start;
  };
  struct Token {
    __m256i y;  // y + 128 as u8
  };

  Row LoadRow(const int8_t* qs) const {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    const __m256i sum_w = GLINT_DPBUSD(_mm256_setzero_si256(), _mm256_set1_epi8(1), w);
    return {w, _mm256_sub_epi32(_mm256_set1_epi32(kDpbusdFloatBias), _mm256_slli_epi32(sum_w, 7))};
  }
  template <int R>
  Token LoadToken(const uint8_t* y) const {
    return {x86::LoadForRows<R>(y)};
  }
  __m256 Sums(const Row& row, const Token& token) const {
    return DpbusdAsFloat(row.start, token.y, row.w);
  }
};

template <int T>
void Q8_0Packed8Tokens(int64_t n, const void* xr, const void* next, const void* y, size_t y_stride,
                       const float* scales, size_t scales_stride, float* out,
                       size_t out_stride) {
  x86::Q8_0Q8_0Packed8XN<T>(n, xr, next, y, y_stride, scales, scales_stride, out, out_stride,
                            Q8_0Offset{});
}
}  // namespace

void VecDotQ8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride) {
  GLINT_DISPATCH_XN(Q8_0Packed8Tokens, n_tokens, n, xr, next, y, y_stride, scales, scales_stride,
                    out, out_stride);
}

}  // namespace glint::kernels::GLINT_VNNI_NAMESPACE
