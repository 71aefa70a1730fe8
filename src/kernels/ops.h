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
  // x[i] = exp(x[i] - max) / sum, in place; returns nothing.
  void (*softmax)(float* x, int64_t n);
  // out[i] = silu(gate[i]) * up[i]; silu(v) = v / (1 + exp(-v)).
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
  // y[i] += a * x[i]
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // y[i] += x[i]
  void (*add)(const float* x, float* y, int64_t n);
  // returns sum x[i]*y[i] (f32 accumulation)
  float (*dot_f32)(const float* x, const float* y, int64_t n);
  // y[i] *= a
  void (*scale)(float* y, float a, int64_t n);
};

const OpsTable& GenericOps();
const OpsTable* Avx2Ops();
const OpsTable& ActiveOps();

}  // namespace glint::kernels
