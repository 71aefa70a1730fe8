// AVX2 single-token dot products over eight rows repacked at load
// (x86/packed8.h): the decode path's matrix-vector products.
#include "kernels/x86/packed8.h"

#include "kernels/internal.h"
#include "kernels/x86/simd.h"

namespace glint::kernels::avx2 {

size_t Q4_1Packed8BlockBytes() { return sizeof(x86::BlockQ4_1x8); }

void RepackQ4_1Packed8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  x86::RepackQ4_1Packed8(n, x, x_row_bytes, dst);
}

void VecDotQ4_1Q8_1Packed8(int64_t n, const void* xr, const void* y, float* out) {
  x86::Q4_1Q8_1Packed8(n, xr, y, out, [](__m256i qx, __m256i qy) { return DotU8I8(qx, qy); });
}

namespace {
template <int T>
void Q4_1Packed8Tokens(int64_t n, const void* xr, const void* next, const void* y, size_t y_stride,
                       const float* scales, size_t scales_stride, float* out,
                       size_t out_stride) {
  x86::Q4_1Q8_1Packed8XN<T>(n, xr, next, y, y_stride, scales, scales_stride, out, out_stride,
                            [](__m256i qx, __m256i qy) { return DotU8I8(qx, qy); });
}
}  // namespace

void VecDotQ4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride) {
  GLINT_DISPATCH_XN(Q4_1Packed8Tokens, n_tokens, n, xr, next, y, y_stride, scales, scales_stride,
                    out, out_stride);
}

size_t Q8_0Packed8BlockBytes() { return sizeof(x86::BlockQ8_0x8); }

void RepackQ8_0Packed8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  x86::RepackQ8_0Packed8(n, x, x_row_bytes, dst);
}

void VecDotQ8_0Q8_0Packed8(int64_t n, const void* xr, const void* y, float* out) {
  x86::Q8_0Q8_0Packed8(n, xr, y, out, [](__m256i ax, __m256i sy) { return DotU8I8(ax, sy); });
}

namespace {
template <int T>
void Q8_0Packed8Tokens(int64_t n, const void* xr, const void* next, const void* y, size_t y_stride,
                       const float* scales, size_t scales_stride, float* out,
                       size_t out_stride) {
  const auto dot = [](__m256i ax, __m256i sy) { return DotU8I8(ax, sy); };
  x86::Q8_0Q8_0Packed8XN<T>(n, xr, next, y, y_stride, scales, scales_stride, out, out_stride,
                            x86::Q8_0SignTrick<decltype(dot)>{dot});
}
}  // namespace

void VecDotQ8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride) {
  GLINT_DISPATCH_XN(Q8_0Packed8Tokens, n_tokens, n, xr, next, y, y_stride, scales, scales_stride,
                    out, out_stride);
}

}  // namespace glint::kernels::avx2
