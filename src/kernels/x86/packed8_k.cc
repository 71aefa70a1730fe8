// Q4_K over eight rows packed at load, AVX2 (x86/packed8_k.h): the packing
// and the decode and prompt products.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"
#include "kernels/x86/packed8_k.h"
#include "kernels/x86/rows8.h"

namespace glint::kernels::avx2 {
namespace {

using x86::Q4KPacked8;
using x86::TransposeQuads;

inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

}  // namespace

size_t Q4KPacked8BlockBytes() { return sizeof(Q4KPacked8); }

void RepackQ4KPacked8(int64_t n, const void* x, size_t x_row_bytes, void* dst) {
  auto* out = static_cast<Q4KPacked8*>(dst);
  const BlockQ4K* rows[8];
  for (int r = 0; r < 8; ++r) {
    rows[r] = reinterpret_cast<const BlockQ4K*>(static_cast<const uint8_t*>(x) + r * x_row_bytes);
  }
  for (int64_t i = 0; i < n / kQKK; ++i) {
    Q4KPacked8& o = out[i];
    for (int r = 0; r < 8; ++r) {
      const BlockQ4K& b = rows[r][i];
      o.d[r] = b.d;
      o.dmin[r] = b.dmin;
      uint8_t sc[8], m[8];
      UnpackScalesMinsK4(b.scales, sc, m);
      for (int s = 0; s < 8; ++s) o.sc[s][r] = sc[s];
      for (int g = 0; g < 4; ++g) {
        o.mins[g][r][0] = m[2 * g];
        o.mins[g][r][1] = m[2 * g + 1];
      }
    }
    for (int g = 0; g < 4; ++g) {
      __m256i v[8];
      for (int r = 0; r < 8; ++r) v[r] = Load256(rows[r][i].qs + 32 * g);
      TransposeQuads(v, o.qs[g]);
    }
  }
}

void VecDotQ4KQ8KPacked8(int64_t n, const void* xr, const void* y, float* out) {
  x86::Q4KQ8KPacked8<x86::MaddubsSums>(n, xr, y, out);
}

void VecDotQ4KQ8KPacked8XN(int64_t n, const void* xr, const void* /*next*/, const void* y,
                           size_t y_stride, const float* /*scales*/, size_t /*scales_stride*/,
                           int n_tokens, float* out, size_t out_stride) {
  x86::Q4KQ8KPacked8XN<x86::MaddubsSums>(n, xr, y, y_stride, n_tokens, out, out_stride);
}

void VecDotQ4KQ8KBatchedPacked8(int64_t n, const void* xr, const void* y, float* state) {
  x86::Q4KQ8KBatchedPacked8<x86::MaddubsSums, 1>(n, xr, y, 0, state);
}

void VecDotQ4KQ8KBatchedPacked8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                  float* state) {
  x86::Q4KQ8KBatchedPacked8<x86::MaddubsSums, 2>(n, xr, y, y_stride, state);
}

void VecDotQ4KQ8KBatchedPacked8X4(int64_t n, const void* xr, const void* y, size_t y_stride,
                                  float* state) {
  x86::Q4KQ8KBatchedPacked8<x86::MaddubsSums, 4>(n, xr, y, y_stride, state);
}

}  // namespace glint::kernels::avx2
