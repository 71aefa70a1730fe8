// Declarations shared between the dispatch tables (kernels.cc) and the
// per-ISA implementations (generic/, x86/). Not part of the public API, but
// the kernel tests include it to hold each SIMD function to its scalar twin.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace glint::kernels {

// Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int adds
// 1.5 * 2^23 and reads the mantissa; rintf in the default rounding mode is the
// same function).
inline int NearestInt(float v) { return static_cast<int>(std::lrintf(v)); }

// Fast scalar half -> float through a 64K-entry table (exact).
float HalfToFloatTable(uint16_t h);

// Rotates pairs i0 .. n_rot / 2 - 1 of one head as OpsTable::rope says.
// `static`: the generic and the AVX2 files compile it with and without
// -mfma (a libm call or one instruction for std::fma), and each must keep
// its own copy.
static inline void RopePairs(float* x, int32_t i0, int32_t n_rot, bool adjacent, const float* cos,
                             const float* sin) {
  const int32_t half = n_rot / 2;
  for (int32_t i = i0; i < half; ++i) {
    const int32_t a = adjacent ? 2 * i : i;
    const int32_t b = adjacent ? 2 * i + 1 : i + half;
    const float x0 = x[a], x1 = x[b];
    const float x1_sin = x1 * sin[i], x1_cos = x1 * cos[i];
    x[a] = std::fma(x0, cos[i], -x1_sin);
    x[b] = std::fma(x0, sin[i], x1_cos);
  }
}

namespace generic {

// Plain types.
void DequantizeF32(const void* src, float* dst, int64_t n);
void QuantizeF32(const float* src, void* dst, int64_t n);
void DequantizeF16(const void* src, float* dst, int64_t n);
void QuantizeF16(const float* src, void* dst, int64_t n);
void DequantizeBF16(const void* src, float* dst, int64_t n);
void QuantizeBF16(const float* src, void* dst, int64_t n);
float VecDotF32(int64_t n, const void* x, const void* y);
float VecDotF16(int64_t n, const void* x, const void* y);
float VecDotBF16(int64_t n, const void* x, const void* y);

// Legacy 32-element formats.
void DequantizeQ4_0(const void* src, float* dst, int64_t n);
void DequantizeQ4_1(const void* src, float* dst, int64_t n);
void DequantizeQ5_0(const void* src, float* dst, int64_t n);
void DequantizeQ5_1(const void* src, float* dst, int64_t n);
void DequantizeQ8_0(const void* src, float* dst, int64_t n);
void DequantizeQ8_1(const void* src, float* dst, int64_t n);
void QuantizeQ4_0(const float* src, void* dst, int64_t n);
void QuantizeQ4_1(const float* src, void* dst, int64_t n);
void QuantizeQ5_0(const float* src, void* dst, int64_t n);
void QuantizeQ5_1(const float* src, void* dst, int64_t n);
void QuantizeQ8_0(const float* src, void* dst, int64_t n);
void QuantizeQ8_1(const float* src, void* dst, int64_t n);
float VecDotQ4_0Q8_0(int64_t n, const void* x, const void* y);
float VecDotQ4_1Q8_1(int64_t n, const void* x, const void* y);
float VecDotQ5_0Q8_0(int64_t n, const void* x, const void* y);
float VecDotQ5_1Q8_1(int64_t n, const void* x, const void* y);
float VecDotQ8_0Q8_0(int64_t n, const void* x, const void* y);

// K-quants (256-element super-blocks).
void DequantizeQ4K(const void* src, float* dst, int64_t n);
void DequantizeQ5K(const void* src, float* dst, int64_t n);
void DequantizeQ6K(const void* src, float* dst, int64_t n);
void DequantizeQ8K(const void* src, float* dst, int64_t n);
void QuantizeQ4K(const float* src, void* dst, int64_t n);
void QuantizeQ5K(const float* src, void* dst, int64_t n);
void QuantizeQ6K(const float* src, void* dst, int64_t n);
void QuantizeQ8K(const float* src, void* dst, int64_t n);
float VecDotQ4KQ8K(int64_t n, const void* x, const void* y);
float VecDotQ5KQ8K(int64_t n, const void* x, const void* y);
float VecDotQ6KQ8K(int64_t n, const void* x, const void* y);
float VecDotQ4KQ8KBatched(int64_t n, const void* x, const void* y);
float VecDotQ6KQ8KBatched(int64_t n, const void* x, const void* y);

// Ops.
float ExpRef(float x);  // the reference's vector exp, one lane
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
void Softmax(float* x, int64_t n);
void Swiglu(const float* gate, const float* up, float* out, int64_t n);
void Axpy(float a, const float* x, float* y, int64_t n);
void Add(const float* x, float* y, int64_t n);
float DotF32(const float* x, const float* y, int64_t n);
void Scale(float* y, float a, int64_t n);
float DotF16X4(const uint16_t* x, const uint16_t* y, int64_t n);
float DotF16X1(const uint16_t* x, const uint16_t* y, int64_t n);
void AxpyF16(float a, const uint16_t* x, float* y, int64_t n);
void ScoresF16X1(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride);
void ScoresF16X4(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride);
void WeightedSumF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                    int64_t acc_g_stride, int64_t acc_stride, int64_t len);
void SumSlots(const float* acc, int64_t acc_stride, int32_t slots, int32_t n_live, int64_t len,
              float* out);
void WeightedSlotsF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                      int64_t p_stride, int32_t n_g, int32_t slots, float* out, int64_t out_stride,
                      int64_t len);
void Rope(float* x, int32_t n_heads, int64_t head_dim, int32_t n_rot, bool adjacent,
          const float* cos, const float* sin);

}  // namespace generic

#if defined(__x86_64__) || defined(__i386__)
#define GLINT_KERNELS_HAVE_X86 1
// AVX2 + FMA + F16C versions (x86/); only called when the CPU has them.
namespace avx2 {

void DequantizeF16(const void* src, float* dst, int64_t n);
void QuantizeF16(const float* src, void* dst, int64_t n);
float VecDotF32(int64_t n, const void* x, const void* y);
float VecDotF16(int64_t n, const void* x, const void* y);

void QuantizeQ8_0(const float* src, void* dst, int64_t n);
void QuantizeQ8_1(const float* src, void* dst, int64_t n);
void QuantizeQ8_0Split(const float* src, void* dst, int64_t n, float* scales,
                       size_t scales_stride, int8_t* quants, bool flip);
void QuantizeQ8_1Split(const float* src, void* dst, int64_t n, float* scales,
                       size_t scales_stride, int8_t* quants, bool flip);
float VecDotQ4_0Q8_0(int64_t n, const void* x, const void* y);
float VecDotQ4_1Q8_1(int64_t n, const void* x, const void* y);
float VecDotQ8_0Q8_0(int64_t n, const void* x, const void* y);

void QuantizeQ8K(const float* src, void* dst, int64_t n);
float VecDotQ4KQ8K(int64_t n, const void* x, const void* y);
float VecDotQ5KQ8K(int64_t n, const void* x, const void* y);
float VecDotQ6KQ8K(int64_t n, const void* x, const void* y);
float VecDotQ4KQ8KBatched(int64_t n, const void* x, const void* y);
float VecDotQ6KQ8KBatched(int64_t n, const void* x, const void* y);

// Four tokens at once (x86/quants_x4.cc), bit-identical to the above.
void VecDotQ4_0Q8_0X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void VecDotQ4_1Q8_1X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void VecDotQ8_0Q8_0X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void VecDotQ4KQ8KBatchedX4(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
void VecDotQ6KQ8KBatchedX4(int64_t n, const void* x, const void* y, size_t y_stride, float* out);
// Up to eight tokens with float activation scales (x86/quants_x4.cc),
// bit-identical to the single-token kernels.
void VecDotQ4_1Q8_1X8(int64_t n, const void* x, const void* y, size_t y_stride,
                      const float* scales, size_t scales_stride, int n_tokens, float* out);
void VecDotQ8_0Q8_0X8(int64_t n, const void* x, const void* y, size_t y_stride,
                      const float* scales, size_t scales_stride, int n_tokens, float* out);
// (Q8_K blocks hold their scale as a float: these two ignore `scales`.)
void VecDotQ4KQ8KX8(int64_t n, const void* x, const void* y, size_t y_stride,
                    const float* scales, size_t scales_stride, int n_tokens, float* out);
void VecDotQ6KQ8KX8(int64_t n, const void* x, const void* y, size_t y_stride,
                    const float* scales, size_t scales_stride, int n_tokens, float* out);
// Eight Q4_K / Q6_K rows with rows in lanes (x86/quants_rows8.cc),
// bit-identical to VecDotQ4KQ8KBatched / VecDotQ6KQ8KBatched per row.
size_t Q4KRows8BlockBytes();
void RepackQ4KRows8(int64_t n, const void* x, size_t x_row_bytes, void* dst);
void VecDotQ4KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state);
void VecDotQ4KQ8KBatchedRows8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                float* state);
size_t Q6KRows8BlockBytes();
void RepackQ6KRows8(int64_t n, const void* x, size_t x_row_bytes, void* dst);
void VecDotQ6KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state);
void VecDotQ6KQ8KBatchedRows8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                float* state);

// Eight Q4_1 / Q8_0 rows repacked at load, single-token order
// (x86/packed8.cc), bit-identical to VecDotQ4_1Q8_1 / VecDotQ8_0Q8_0 per row.
size_t Q4_1Packed8BlockBytes();
void RepackQ4_1Packed8(int64_t n, const void* x, size_t x_row_bytes, void* dst);
void VecDotQ4_1Q8_1Packed8(int64_t n, const void* xr, const void* y, float* out);
void VecDotQ4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride);
// Eight Q4_K rows packed at load (x86/packed8_k.cc), bit-identical per row
// to VecDotQ4KQ8K (decode) and VecDotQ4KQ8KBatched (prompts).
size_t Q4KPacked8BlockBytes();
void RepackQ4KPacked8(int64_t n, const void* x, size_t x_row_bytes, void* dst);
void VecDotQ4KQ8KPacked8(int64_t n, const void* xr, const void* y, float* out);
void VecDotQ4KQ8KPacked8XN(int64_t n, const void* xr, const void* next, const void* y,
                           size_t y_stride, const float* scales, size_t scales_stride,
                           int n_tokens, float* out, size_t out_stride);
void VecDotQ4KQ8KBatchedPacked8(int64_t n, const void* xr, const void* y, float* state);
void VecDotQ4KQ8KBatchedPacked8X2(int64_t n, const void* xr, const void* y, size_t y_stride,
                                  float* state);
void VecDotQ4KQ8KBatchedPacked8X4(int64_t n, const void* xr, const void* y, size_t y_stride,
                                  float* state);
size_t Q8_0Packed8BlockBytes();
void RepackQ8_0Packed8(int64_t n, const void* x, size_t x_row_bytes, void* dst);
void VecDotQ8_0Q8_0Packed8(int64_t n, const void* xr, const void* y, float* out);
void VecDotQ8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride);

void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
void Softmax(float* x, int64_t n);
void Swiglu(const float* gate, const float* up, float* out, int64_t n);
void Axpy(float a, const float* x, float* y, int64_t n);
void Add(const float* x, float* y, int64_t n);
float DotF32(const float* x, const float* y, int64_t n);
void Scale(float* y, float a, int64_t n);
float DotF16X4(const uint16_t* x, const uint16_t* y, int64_t n);
float DotF16X1(const uint16_t* x, const uint16_t* y, int64_t n);
void AxpyF16(float a, const uint16_t* x, float* y, int64_t n);
void ScoresF16X1(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride);
void ScoresF16X4(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride);
void WeightedSumF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                    int64_t acc_g_stride, int64_t acc_stride, int64_t len);
void SumSlots(const float* acc, int64_t acc_stride, int32_t slots, int32_t n_live, int64_t len,
              float* out);
void WeightedSlotsF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                      int64_t p_stride, int32_t n_g, int32_t slots, float* out, int64_t out_stride,
                      int64_t len);
void Rope(float* x, int32_t n_heads, int64_t head_dim, int32_t n_rot, bool adjacent,
          const float* cos, const float* sin);

}  // namespace avx2

#if defined(GLINT_KERNELS_HAVE_AVXVNNI) || defined(GLINT_KERNELS_HAVE_AVX512VNNI)
// The x86/vnni/ kernels, bit-identical to the avx2:: ones; declared once per
// build of them (x86/vnni/vnni.h).
#define GLINT_DECLARE_VNNI_KERNELS \
void VecDotQ4_1Q8_1X4(int64_t n, const void* x, const void* y, size_t y_stride, float* out);      \
void VecDotQ4_1Q8_1X8(int64_t n, const void* x, const void* y, size_t y_stride,                   \
                      const float* scales, size_t scales_stride, int n_tokens, float* out);       \
void VecDotQ6KQ8KX8(int64_t n, const void* x, const void* y, size_t y_stride,                     \
                    const float* scales, size_t scales_stride, int n_tokens, float* out);         \
void VecDotQ4KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state);            \
void VecDotQ4KQ8KBatchedRows8X2(int64_t n, const void* xr, const void* y, size_t y_stride,        \
                                float* state);                                                    \
void VecDotQ6KQ8KBatchedRows8(int64_t n, const void* xr, const void* y, float* state);            \
void VecDotQ6KQ8KBatchedRows8X2(int64_t n, const void* xr, const void* y, size_t y_stride,        \
                                float* state);                                                    \
void VecDotQ4_1Q8_1Packed8(int64_t n, const void* xr, const void* y, float* out);                 \
void VecDotQ4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,          \
                             size_t y_stride, const float* scales, size_t scales_stride,          \
                             int n_tokens, float* out, size_t out_stride);                        \
void VecDotQ8_0Q8_0Packed8(int64_t n, const void* xr, const void* y, float* out);                 \
void VecDotQ8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,          \
                             size_t y_stride, const float* scales, size_t scales_stride,          \
                             int n_tokens, float* out, size_t out_stride);                        \
void VecDotQ4KQ8KPacked8(int64_t n, const void* xr, const void* y, float* out);                   \
void VecDotQ4KQ8KPacked8XN(int64_t n, const void* xr, const void* next, const void* y,            \
                           size_t y_stride, const float* scales, size_t scales_stride,            \
                           int n_tokens, float* out, size_t out_stride);                          \
void VecDotQ4KQ8KBatchedPacked8(int64_t n, const void* xr, const void* y, float* state);          \
void VecDotQ4KQ8KBatchedPacked8X2(int64_t n, const void* xr, const void* y, size_t y_stride,      \
                                  float* state);                                                  \
void VecDotQ4KQ8KBatchedPacked8X4(int64_t n, const void* xr, const void* y, size_t y_stride,      \
                                  float* state);
#endif
#ifdef GLINT_KERNELS_HAVE_AVXVNNI
namespace avxvnni {
GLINT_DECLARE_VNNI_KERNELS
}  // namespace avxvnni
#endif
#ifdef GLINT_KERNELS_HAVE_AVX512VNNI
namespace avx512vnni {
GLINT_DECLARE_VNNI_KERNELS
}  // namespace avx512vnni
#endif
#ifdef GLINT_KERNELS_HAVE_AVX512VBMI
// x86/avx512/: 512-bit kernels for CPUs with AVX512-VNNI and VBMI.
namespace avx512vbmi {
void VecDotQ4_1Q8_1Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride);
void VecDotQ8_0Q8_0Packed8XN(int64_t n, const void* xr, const void* next, const void* y,
                             size_t y_stride, const float* scales, size_t scales_stride,
                             int n_tokens, float* out, size_t out_stride);
void Swiglu(const float* gate, const float* up, float* out, int64_t n);
void ScoresF16X4(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride);
void WeightedSlotsF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                      int64_t p_stride, int32_t n_g, int32_t slots, float* out, int64_t out_stride,
                      int64_t len);
void WeightedSumF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                    int64_t acc_g_stride, int64_t acc_stride, int64_t len);
}  // namespace avx512vbmi
#endif
#endif

// Calls KERNEL<T>(args...) for T = n_tokens in 1..8 (the multi-token
// kernels keep T accumulators in registers, so T is a template argument).
#define GLINT_DISPATCH_XN(KERNEL, n_tokens, ...)      \
  do {                                                 \
    switch (n_tokens) {                                \
      case 1: KERNEL<1>(__VA_ARGS__); break;           \
      case 2: KERNEL<2>(__VA_ARGS__); break;           \
      case 3: KERNEL<3>(__VA_ARGS__); break;           \
      case 4: KERNEL<4>(__VA_ARGS__); break;           \
      case 5: KERNEL<5>(__VA_ARGS__); break;           \
      case 6: KERNEL<6>(__VA_ARGS__); break;           \
      case 7: KERNEL<7>(__VA_ARGS__); break;           \
      default: KERNEL<8>(__VA_ARGS__); break;          \
    }                                                  \
  } while (false)

}  // namespace glint::kernels
