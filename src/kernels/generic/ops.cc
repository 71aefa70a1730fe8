// Scalar reference for the row operations of ops.h. The accumulations follow
// the reference engine's CPU ops (ggml-cpu ops.cpp / vec.h): rms_norm and
// softmax sum in double; the norm scale is applied before the weight, as
// ggml_rms_norm followed by ggml_mul does.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "kernels/internal.h"

namespace glint::kernels::generic {

void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

// exp(x) exactly as the reference engine's vector ggml_v_expf computes it on
// AVX-512 machines (the machines glint is measured on): n = round(x / ln2)
// by the 1.5 * 2^23 trick, r = x - n ln2 with ln2 in two parts, a degree-5
// polynomial evaluated in the same fused-multiply-add tree, then scaled by
// 2^n in one rounding (vscalefps). |n| > 192 gives 0 (n < 0) or +inf.
float ExpRef(float x) {
  const float shift = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, shift);
  const float n = z - shift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::isnan(n)) return n;
  if (std::fabs(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

// The reference's ggml_vec_soft_max_f32 (with AVX-512): groups of 16 use the
// vector exp and add their f32 sum (a pairwise tree: 8+8, 4+4, 2+2, 1+1) to a
// double; the tail uses expf and adds each value. Then x *= (float)(1/sum).
void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float e[16];
    for (int l = 0; l < 16; ++l) x[i + l] = e[l] = ExpRef(x[i + l] - max);
    for (int w = 8; w >= 1; w /= 2) {
      for (int l = 0; l < w; ++l) e[l] += e[l + w];
    }
    sum += static_cast<double>(e[0]);
  }
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t k = 0; k < n; ++k) x[k] *= inv;
}

// The reference's ggml_vec_swiglu_f32 (with AVX-512): groups of 16 use
// x / (1 + ExpRef(0 - x)), the tail x / (1 + expf(-x)); then times up.
void Swiglu(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t n16 = n / 16 * 16;
  for (int64_t i = 0; i < n16; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + ExpRef(0.0f - g)) * up[i];
  }
  for (int64_t i = n16; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

// Reduces 16 lanes pairwise (8+8, 4+4, 2+2, 1+1), as _mm512_reduce_add_ps.
static float Reduce16(float* v) {
  for (int w = 8; w >= 1; w /= 2) {
    for (int l = 0; l < w; ++l) v[l] += v[l + w];
  }
  return v[0];
}

float DotF16X4(const uint16_t* x, const uint16_t* y, int64_t n) {
  float acc[4][16] = {};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 16; ++l) {
        const int64_t k = i + 16 * c + l;
        acc[c][l] = std::fma(HalfToFloat(x[k]), HalfToFloat(y[k]), acc[c][l]);
      }
    }
  }
  for (int l = 0; l < 16; ++l) {
    acc[0][l] += acc[2][l];
    acc[1][l] += acc[3][l];
    acc[0][l] += acc[1][l];
  }
  double sum = Reduce16(acc[0]);
  for (; i < n; ++i) sum += static_cast<double>(HalfToFloat(x[i]) * HalfToFloat(y[i]));
  return static_cast<float>(sum);
}

float DotF16X1(const uint16_t* x, const uint16_t* y, int64_t n) {
  float acc[16] = {};
  for (int64_t i = 0; i < n; i += 16) {
    for (int l = 0; l < 16; ++l) {
      acc[l] = std::fma(HalfToFloat(x[i + l]), HalfToFloat(y[i + l]), acc[l]);
    }
  }
  return Reduce16(acc);
}

void AxpyF16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(HalfToFloat(x[i]), a, y[i]);
}

// The reference for the SIMD versions: literally the composition the
// contract describes.
namespace {

// out[g * out_stride + j] = dot(k_j, f16(q_g)) * scale.
void Scores(float (*dot)(const uint16_t*, const uint16_t*, int64_t), const uint16_t* k,
            int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q, int64_t hd, float scale,
            float* out, int64_t out_stride) {
  std::vector<uint16_t> qh(static_cast<size_t>(hd));
  for (int32_t g = 0; g < n_q; ++g) {
    for (int64_t i = 0; i < hd; ++i) qh[i] = FloatToHalf(q[g * hd + i]);  // exact: q holds halves
    for (int32_t j = 0; j < n_keys; ++j) {
      out[g * out_stride + j] = dot(k + j * k_stride, qh.data(), hd) * scale;
    }
  }
}

}  // namespace

void ScoresF16X1(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride) {
  Scores(DotF16X1, k, k_stride, n_keys, q, n_q, hd, scale, out, out_stride);
}

void ScoresF16X4(const uint16_t* k, int64_t k_stride, int32_t n_keys, const float* q, int32_t n_q,
                 int64_t hd, float scale, float* out, int64_t out_stride) {
  Scores(DotF16X4, k, k_stride, n_keys, q, n_q, hd, scale, out, out_stride);
}

void WeightedSumF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                    int64_t p_stride, int32_t n_g, int32_t slots, float* acc,
                    int64_t acc_g_stride, int64_t acc_stride, int64_t len) {
  for (int32_t g = 0; g < n_g; ++g) {
    for (int32_t r = 0; r < slots && r < n_pos; ++r) {
      std::fill(acc + g * acc_g_stride + r * acc_stride,
                acc + g * acc_g_stride + r * acc_stride + len, 0.0f);
    }
  }
  for (int32_t j = 0; j < n_pos; ++j) {
    for (int32_t g = 0; g < n_g; ++g) {
      AxpyF16(p[g * p_stride + j], v + j * v_stride,
              acc + g * acc_g_stride + (j % slots) * acc_stride, len);
    }
  }
}

void SumSlots(const float* acc, int64_t acc_stride, int32_t slots, int32_t n_live, int64_t len,
              float* out) {
  CHECK(slots == 16 || slots == 64);
  for (int64_t i = 0; i < len; ++i) {
    float s[64];
    for (int32_t r = 0; r < slots; ++r) s[r] = r < n_live ? acc[r * acc_stride + i] : 0.0f;
    if (slots == 64) {
      for (int32_t r = 0; r < 16; ++r) {
        s[r] += s[r + 32];
        s[r + 16] += s[r + 48];
        s[r] += s[r + 16];
      }
    }
    for (int32_t w = 8; w >= 1; w /= 2) {
      for (int32_t r = 0; r < w; ++r) s[r] += s[r + w];
    }
    out[i] = s[0];
  }
}

void WeightedSlotsF16(const uint16_t* v, int64_t v_stride, int32_t n_pos, const float* p,
                      int64_t p_stride, int32_t n_g, int32_t slots, float* out, int64_t out_stride,
                      int64_t len) {
  std::vector<float> acc(static_cast<size_t>(slots) * len);
  for (int32_t g = 0; g < n_g; ++g) {
    WeightedSumF16(v, v_stride, n_pos, p + g * p_stride, 0, 1, slots, acc.data(), 0, len, len);
    SumSlots(acc.data(), len, slots, std::min(n_pos, slots), len, out + g * out_stride);
  }
}

void Rope(float* x, int32_t n_heads, int64_t head_dim, int32_t n_rot, bool adjacent,
          const float* cos, const float* sin) {
  for (int32_t h = 0; h < n_heads; ++h) RopePairs(x + h * head_dim, 0, n_rot, adjacent, cos, sin);
}

void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void Add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

float DotF32(const float* x, const float* y, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

void Scale(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace glint::kernels::generic
