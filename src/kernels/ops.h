// Element-wise and row operations on f32 activations, with the same
// scalar-reference / AVX2 dispatch as the per-type kernels.
#pragma once

#include <cstdint>

namespace glint::kernels {

struct OpsTable {
  const char* isa = "generic";
  // y = x / sqrt(mean(x^2) + eps) * w   (w may be nullptr: no scaling).
  // The mean of squares is accumulated in double, as the reference does.
  void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // x[i] = exp(x[i] - max) / sum, in place; returns nothing. Mirrors the
  // reference's ggml_vec_soft_max_f32 as built for AVX-512: groups of 16
  // use the reference's vector exp (ExpRef) and add their f32 sum to a
  // double, the tail uses expf; then x *= (float)(1 / sum). For the
  // reference's results on a row it pads, pad with -inf to a multiple of 16.
  void (*softmax)(float* x, int64_t n);
  // out[i] = silu(gate[i]) * up[i]; silu(v) = v / (1 + exp(-v)), with the
  // reference's vector exp for the first n/16*16 elements, expf after.
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
  // y[i] += a * x[i]
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // y[i] += x[i]
  void (*add)(const float* x, float* y, int64_t n);
  // returns sum x[i]*y[i] (f32 accumulation)
  float (*dot_f32)(const float* x, const float* y, int64_t n);
  // y[i] *= a
  void (*scale)(float* y, float a, int64_t n);

  // F16 dot products in the two orders the reference uses for attention
  // (products of halves are exact in f32, so SIMD and scalar agree bitwise):
  // x4: ggml_vec_dot_f16 on AVX-512, four 16-lane accumulators per 64
  //     elements, combined (0+2, 1+3, 0+1) and reduced 8+8, 4+4, 2+2, 1+1;
  //     elements past the last multiple of 64 are added in double.
  // x1: tinyBLAS's F16 GEMM tile, one 16-lane accumulator over steps of 16,
  //     reduced the same way; n must be a multiple of 16.
  float (*dot_f16_x4)(const uint16_t* x, const uint16_t* y, int64_t n);
  float (*dot_f16_x1)(const uint16_t* x, const uint16_t* y, int64_t n);
  // y[i] = fma(half x[i], a, y[i])
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n);

  // Attention over an f16 KV cache, in the orders above, for many rows at
  // once (a call per 64-element dot or axpy costs as much as the work):
  // scores_f16_x1: out[g * out_stride + j] = dot_f16_x1(k + j * k_stride,
  //   q_g) * scale for j < n_keys, g < n_q, with the queries q_g = q + g * hd
  //   given in f32 holding f16 values (so the products are those of the
  //   halves); hd a multiple of 16.
  // scores_f16_x4: the same with dot_f16_x4; hd a multiple of 64.
  // weighted_sum_f16: for each g < n_g, acc_g row r (r < slots and r <
  //   n_pos) = the sum over j = r, r + slots, ... < n_pos of p_g[j] * v_j,
  //   formed as axpy_f16 adds them in that order to a zeroed row: v_j = v +
  //   j * v_stride, p_g = p + g * p_stride, acc_g = acc + g * acc_g_stride
  //   with rows acc_stride apart, len elements each. Rows from n_pos on are
  //   left as they are.
  // sum_slots: out[i] for i < len = the slots rows acc + r * acc_stride
  //   (slots 16 or 64; rows from n_live on count as +0) reduced as the two
  //   F16 dot products reduce their lanes: for 64, rows r + (r + 32) and
  //   (r + 16) + (r + 48), then those two, for r < 16; then r + (r + 8),
  //   r + (r + 4), r + (r + 2), r + (r + 1).
  // weighted_slots_f16: out_g[i] (out_g = out + g * out_stride) for g <
  //   n_g, i < len = sum_slots(n_live = min(n_pos, slots)) of the rows
  //   weighted_sum_f16 forms, the same sums, without the rows in memory:
  //   for short contexts, where each slot holds a position or two and
  //   storing and reloading the rows cost more than their products.
  void (*scores_f16_x1)(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q,
                        int32_t n_q, int64_t hd, float scale, float* out, int64_t out_stride);
  void (*scores_f16_x4)(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q,
                        int32_t n_q, int64_t hd, float scale, float* out, int64_t out_stride);
  void (*weighted_sum_f16)(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                           int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                           int64_t acc_g_stride, int64_t acc_stride, int64_t len);
  void (*sum_slots)(const float* acc, int64_t acc_stride, int32_t slots, int32_t n_live,
                    int64_t len, float* out);
  void (*weighted_slots_f16)(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                             int64_t p_stride, int32_t n_g, int32_t slots, float* out,
                             int64_t out_stride, int64_t len);

  // Rotary position embedding of n_heads heads of head_dim floats at x, in
  // place: for i < n_rot / 2, the pair (x[a], x[b]) (a = 2i, b = 2i + 1
  // when adjacent, else a = i, b = i + n_rot / 2) becomes
  // (fma(x[a], cos[i], -(x[b] sin[i])), fma(x[a], sin[i], x[b] cos[i])), as
  // the reference's build contracts it.
  void (*rope)(float* x, int32_t n_heads, int64_t head_dim, int32_t n_rot, bool adjacent,
               const float* cos, const float* sin);
};

const OpsTable& GenericOps();
const OpsTable* Avx2Ops();
// The AVX2 table with 512-bit versions where they pay (SwiGLU), for CPUs
// with the AVX512 VBMI table's features; nullptr when not here.
const OpsTable* Avx512Ops();
// Chosen as ActiveKernels chooses (GLINT_ISA included).
const OpsTable& ActiveOps();

}  // namespace glint::kernels
