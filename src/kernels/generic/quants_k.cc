// Scalar reference for the K-quants (Q4_K, Q5_K, Q6_K) and their activation
// format Q8_K (layouts in kernels/blocks.h).
//
// Q8_K quantization is the reference engine's quantize_row_q8_K_ref (which
// the x86 build also uses): take the element of largest magnitude with its
// sign (max), iscale = -127 / max, q = min(127, nearest_int(iscale * x)),
// d = 1 / iscale, bsums = sums of 16-element groups.
//
// The weight quantizers here are simple min/max round-to-nearest versions
// (no importance weighting, no scale search): good enough to build test
// weights, not to ship models.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"

namespace glint::kernels::generic {
namespace {

inline float H(uint16_t h) { return HalfToFloatTable(h); }

// Unpacked 5- or 4-bit values of a Q4_K / Q5_K block, in element order.
void UnpackQ4K(const BlockQ4K& b, uint8_t* q) {
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      q[64 * g + l] = b.qs[32 * g + l] & 0xF;
      q[64 * g + 32 + l] = b.qs[32 * g + l] >> 4;
    }
  }
}

void UnpackQ5K(const BlockQ5K& b, uint8_t* q) {
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t h = b.qh[l];
      q[64 * g + l] = (b.qs[32 * g + l] & 0xF) | (((h >> (2 * g)) & 1) << 4);
      q[64 * g + 32 + l] = (b.qs[32 * g + l] >> 4) | (((h >> (2 * g + 1)) & 1) << 4);
    }
  }
}

// Signed 6-bit values (q - 32) of a Q6_K block, in element order.
void UnpackQ6K(const BlockQ6K& b, int8_t* q) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* o = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      o[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

// Min/max quantization of one 256-element block into 8 sub-blocks with
// 6-bit scales and mins and `levels` (15 or 31) steps. Writes d, dmin,
// scales and the unpacked values q.
void QuantizeKMinMax(const float* x, int levels, uint16_t* d_out, uint16_t* dmin_out,
                     uint8_t* scales_out, uint8_t* q) {
  float scale[8], min[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float lo = 0, hi = -INFINITY;  // lo <= 0: mins are stored as non-negative offsets
    for (int l = 0; l < 32; ++l) {
      lo = std::min(lo, x[32 * j + l]);
      hi = std::max(hi, x[32 * j + l]);
    }
    scale[j] = (hi - lo) / levels;
    min[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, NearestInt(inv_scale * scale[j])));
    lm[j] = static_cast<uint8_t>(std::min(63, NearestInt(inv_min * min[j])));
  }
  *d_out = FloatToHalf(max_scale / 63.f);
  *dmin_out = FloatToHalf(max_min / 63.f);
  PackScaleMinK4(ls, lm, scales_out);
  // Quantize against the scales as they will be decoded.
  const float d = H(*d_out), dmin = H(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    const float dd = d * ls[j];
    const float dm = dmin * lm[j];
    for (int l = 0; l < 32; ++l) {
      const int v = dd != 0 ? NearestInt((x[32 * j + l] + dm) / dd) : 0;
      q[32 * j + l] = static_cast<uint8_t>(std::clamp(v, 0, levels));
    }
  }
}

}  // namespace

void DequantizeQ4K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4K*>(src);
  uint8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = H(b[i].d), dmin = H(b[i].dmin);
    UnpackQ4K(b[i], q);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackScaleMinK4(j, b[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      for (int l = 0; l < 32; ++l) dst[32 * j + l] = d1 * q[32 * j + l] - m1;
    }
  }
}

void DequantizeQ5K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5K*>(src);
  uint8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = H(b[i].d), dmin = H(b[i].dmin);
    UnpackQ5K(b[i], q);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackScaleMinK4(j, b[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      for (int l = 0; l < 32; ++l) dst[32 * j + l] = d1 * q[32 * j + l] - m1;
    }
  }
}

void DequantizeQ6K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6K*>(src);
  int8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = H(b[i].d);
    UnpackQ6K(b[i], q);
    for (int j = 0; j < 16; ++j) {
      const float dj = d * b[i].scales[j];
      for (int l = 0; l < 16; ++l) dst[16 * j + l] = dj * q[16 * j + l];
    }
  }
}

void DequantizeQ8K(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    for (int l = 0; l < kQKK; ++l) dst[l] = b[i].d * b[i].qs[l];
  }
}

void QuantizeQ4K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4K*>(dst);
  uint8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    QuantizeKMinMax(src, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        b[i].qs[32 * g + l] = static_cast<uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
      }
    }
  }
}

void QuantizeQ5K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5K*>(dst);
  uint8_t q[kQKK];
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    QuantizeKMinMax(src, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = q[64 * g + l], hi = q[64 * g + 32 + l];
        b[i].qs[32 * g + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b[i].qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
      }
    }
  }
}

void QuantizeQ6K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ6K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    // Per 16-element group: the signed extreme maps to -32 (range [-32, 31]).
    float scale[16];
    float max_scale = 0, amax_scale = 0;
    for (int j = 0; j < 16; ++j) {
      float amax = 0, max = 0;
      for (int l = 0; l < 16; ++l) {
        const float v = src[16 * j + l];
        if (std::fabs(v) > amax) {
          amax = std::fabs(v);
          max = v;
        }
      }
      scale[j] = max / -32.f;
      if (std::fabs(scale[j]) > amax_scale) {
        amax_scale = std::fabs(scale[j]);
        max_scale = scale[j];
      }
    }
    if (amax_scale == 0) {
      std::memset(&b[i], 0, sizeof(b[i]));  // d = 0 decodes to zeros
      continue;
    }
    const float iscale = -128.f / max_scale;
    for (int j = 0; j < 16; ++j) {
      b[i].scales[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scale[j])));
    }
    b[i].d = FloatToHalf(1.f / iscale);
    const float d = H(b[i].d);
    uint8_t q[kQKK];
    for (int j = 0; j < 16; ++j) {
      const float dd = d * b[i].scales[j];
      for (int l = 0; l < 16; ++l) {
        const int v = dd != 0 ? NearestInt(src[16 * j + l] / dd) : 0;
        q[16 * j + l] = static_cast<uint8_t>(std::clamp(v, -32, 31) + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = b[i].ql + 64 * h;
      uint8_t* qh = b[i].qh + 32 * h;
      const uint8_t* o = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((o[l] & 0xF) | ((o[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((o[l + 32] & 0xF) | ((o[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((o[l] >> 4) | ((o[l + 32] >> 4) << 2) |
                                     ((o[l + 64] >> 4) << 4) | ((o[l + 96] >> 4) << 6));
      }
    }
  }
}

void QuantizeQ8K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    float max = 0, amax = 0;
    for (int l = 0; l < kQKK; ++l) {
      const float ax = std::fabs(src[l]);
      if (ax > amax) {
        amax = ax;
        max = src[l];
      }
    }
    if (amax == 0) {
      std::memset(&b[i], 0, sizeof(b[i]));
      continue;
    }
    const float iscale = -127.f / max;
    for (int l = 0; l < kQKK; ++l) {
      b[i].qs[l] = static_cast<int8_t>(std::min(127, NearestInt(iscale * src[l])));
    }
    for (int j = 0; j < kQKK / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[16 * j + l];
      b[i].bsums[j] = static_cast<int16_t>(sum);
    }
    b[i].d = 1 / iscale;
  }
}

// K-quant dot products: sum_j d sc_j (q . y)_j - dmin sum_j m_j (sum y)_j, with
// integer sums inside the block and (sum y)_j read from Q8_K's bsums; d and
// dmin already carry the activation's scale (ggml_vec_dot_q4_K_q8_K).

float VecDotQ4KQ8K(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  uint8_t q[kQKK];
  float acc = 0, acc_min = 0;  // the order of the reference repacked gemv
  for (int64_t i = 0; i < n / kQKK; ++i) {
    UnpackQ4K(bx[i], q);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackScaleMinK4(j, bx[i].scales, &sc, &m);
      int dot = 0;
      for (int l = 0; l < 32; ++l) dot += q[32 * j + l] * by[i].qs[32 * j + l];
      sumi += sc * dot;
      summ += m * (by[i].bsums[2 * j] + by[i].bsums[2 * j + 1]);
    }
    acc = std::fma(static_cast<float>(sumi), H(bx[i].d) * by[i].d, acc);
    acc_min = std::fma(static_cast<float>(summ), H(bx[i].dmin) * by[i].d, acc_min);
  }
  return acc - acc_min;
}

float VecDotQ5KQ8K(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ5K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  uint8_t q[kQKK];
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    UnpackQ5K(bx[i], q);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackScaleMinK4(j, bx[i].scales, &sc, &m);
      int dot = 0;
      for (int l = 0; l < 32; ++l) dot += q[32 * j + l] * by[i].qs[32 * j + l];
      sumi += sc * dot;
      summ += m * (by[i].bsums[2 * j] + by[i].bsums[2 * j + 1]);
    }
    sum += by[i].d * H(bx[i].d) * sumi - by[i].d * H(bx[i].dmin) * summ;
  }
  return sum;
}

// The block's integer dot product sum_j scale_j * sum_l q_jl * y_jl over its
// 16 sub-blocks of 16. Exact integers: shared by both summation orders.
namespace {
int Q6KBlockSum(const BlockQ6K& x, const BlockQ8K& y) {
  int8_t q[kQKK];
  UnpackQ6K(x, q);
  int sumi = 0;
  for (int j = 0; j < 16; ++j) {
    int dot = 0;
    for (int l = 0; l < 16; ++l) dot += q[16 * j + l] * y.qs[16 * j + l];
    sumi += x.scales[j] * dot;
  }
  return sumi;
}
}  // namespace

float VecDotQ6KQ8K(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ6K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  float sum = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const int sumi = Q6KBlockSum(bx[i], by[i]);
    sum += by[i].d * H(bx[i].d) * sumi;
  }
  return sum;
}

// The reference's batched orders (see kernels.h, vec_dot_batched).
float VecDotQ4KQ8KBatched(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  uint8_t q[kQKK];
  float acc = 0, acc_min = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    UnpackQ4K(bx[i], q);
    const float d = H(bx[i].d) * by[i].d, dmin = H(bx[i].dmin) * by[i].d;
    for (int g = 0; g < 4; ++g) {
      int sumi = 0, summ = 0;
      for (int j = 2 * g; j < 2 * g + 2; ++j) {
        uint8_t sc, m;
        UnpackScaleMinK4(j, bx[i].scales, &sc, &m);
        int dot = 0;
        for (int l = 0; l < 32; ++l) dot += q[32 * j + l] * by[i].qs[32 * j + l];
        sumi += sc * dot;
        summ += m * (by[i].bsums[2 * j] + by[i].bsums[2 * j + 1]);
      }
      acc = std::fma(static_cast<float>(sumi), d, acc);
      acc_min = std::fma(static_cast<float>(summ), dmin, acc_min);
    }
  }
  return acc - acc_min;
}

float VecDotQ6KQ8KBatched(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ6K*>(x);
  const auto* by = static_cast<const BlockQ8K*>(y);
  float acc = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const int sumi = Q6KBlockSum(bx[i], by[i]);
    acc = std::fma(by[i].d, static_cast<float>(sumi) * H(bx[i].d), acc);
  }
  return acc;
}

}  // namespace glint::kernels::generic
