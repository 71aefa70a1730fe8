// x86/packed8_k.cc with vpdpbusd for the integer sums: four products per
// i32 lane straight from the nibbles, each sub-block's sum then multiplied
// by its scale (exact either way, so bit-identical to it). Built twice
// (vnni.h); only called when the CPU has VNNI.
#include "kernels/internal.h"
#include "kernels/x86/packed8_k.h"
#include "kernels/x86/vnni/vnni.h"

namespace glint::kernels::GLINT_VNNI_NAMESPACE {
namespace {

struct DpbusdSums {
  static __m256i AddQuad(__m256i acc, __m256i w, const int8_t* a) {
    return DpbusdQuad(acc, w, a);
  }
  static __m256i Scale(__m256i acc, const uint8_t* sc) {
    return _mm256_mullo_epi32(
        acc, _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
  }
};

}  // namespace

void VecDotQ4KQ8KPacked8(int64_t n, const void* xr, const void* y, float* out) {
  x86::Q4KQ8KPacked8<DpbusdSums>(n, xr, y, out);
}

void VecDotQ4KQ8KPacked8XN(int64_t n, const void* xr, const void* /*next*/, const void* y,
                           size_t y_stride, const float* /*scales*/, size_t /*scales_stride*/,
                           int n_tokens, float* out, size_t out_stride) {
  x86::Q4KQ8KPacked8XN<DpbusdSums>(n, xr, y, y_stride, n_tokens, out, out_stride);
}

void VecDotQ4KQ8KBatchedPacked8(int64_t n, const void* xr, const void* y, float* state) {
  x86::Q4KQ8KBatchedPacked8<DpbusdSums, 1>(n, xr, y, 0, state);
}

void VecDotQ4KQ8KBatchedPacked8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                  float* state) {
  x86::Q4KQ8KBatchedPacked8<DpbusdSums, 2>(n, xr, y, y_stride, state);
}

void VecDotQ4KQ8KBatchedPacked8X4(int64_t n, const void* xr, const void* y, size_t y_stride,
                                  float* state) {
  x86::Q4KQ8KBatchedPacked8<DpbusdSums, 4>(n, xr, y, y_stride, state);
}

}  // namespace glint::kernels::GLINT_VNNI_NAMESPACE
